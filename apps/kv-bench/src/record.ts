import type { MethodParams } from '@kvkit/tensor-core';

/** One row of results: a method with its parameters on one model and text. The --json schema. */
export interface BenchRecord {
  method: string;
  label: string;
  params: MethodParams;
  /** A composed row's store (`h2o:budget=0.5+quant:bits=4`: name 'quant' and its parameters); `method` is then 'h2o+quant'. */
  store?: { name: string; params: MethodParams };
  /** Perplexity over the decoded tokens of the held-out windows. */
  ppl: number;
  /** Bits per byte of the same text (model-size independent; comparable with compressors). */
  bpb: number;
  /** Mean KL(dense ‖ method) of the next-token distribution, nats per token (0 for the dense row). */
  kl: number;
  /** Share of the dense cache's repeat-passage gain kept (1 = remembers like dense). */
  recall: number;
  recallFirstNll: number;
  recallRepeatNll: number;
  /** Passkey exact-match accuracy over all prompts. */
  passkey: number;
  passkeyByLength: Record<string, number>;
  passkeyByDepth: Record<string, number>;
  /** Resident KV bytes at the end of the largest window, and by part. */
  kvBytes: number;
  /** What an uncompressed f16 cache would hold for the same tokens: their K and V in f16, plus a hybrid model's recurrent state. */
  kvBytesF16: number;
  /** kvBytesF16 / kvBytes. */
  compression: number;
  kvParts: Record<string, number>;
  kvLayerBytes: number[];
  /** Decode tokens per second (teacher-forced, one token per forward). */
  tokensPerSec: number;
  prefillTokensPerSec: number;
  evaluatedTokens: number;
}
