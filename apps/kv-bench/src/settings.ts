/** How much each row is measured on (the CLI's defaults scale these to the model's context). */
export interface BenchSettings {
  /** Tokens per evaluation window (≤ the model's context). */
  windowTokens: number;
  windows: number;
  /** Share of each window prefilled as a prompt; the rest is decoded token by token. */
  prefillFraction: number;
  recallProbes: number;
  recallPassageTokens: number;
  recallFillerTokens: number;
  passkeyLengths: number[];
  passkeyDepths: number[];
  passkeyPerCell: number;
  seed: number;
}

/** Tokens each method processes, for progress bars. */
export function tokensPerMethod(s: BenchSettings): number {
  return (
    s.windows * s.windowTokens +
    s.recallProbes * (2 * s.recallPassageTokens + s.recallFillerTokens) +
    s.passkeyLengths.length * s.passkeyDepths.length * s.passkeyPerCell * (s.passkeyLengths.reduce((a, b) => a + b, 0) / s.passkeyLengths.length)
  );
}
