/**
 * Resident memory, honestly counted: bytes actually held by a cache (allocated capacity included),
 * by part. A method that only masks tokens reports no saving.
 */
export interface MemoryReport {
  /** Total resident bytes: the sum of `parts`. */
  bytes: number;
  /**
   * Resident bytes by part. Conventional names: keys, values (dense storage), codes, scales, zeros
   * (quantized storage), window (full-precision residual window), outliers (sparse side store),
   * positions, indices (page tables, kept-token maps), latents, projections, statistics (scorer
   * state), reserved (allocated capacity not holding tokens yet), recurrent (a model's per-request
   * state beside K/V: `CacheSpec.recurrentState`).
   */
  parts: Record<string, number>;
  /** Tokens stored, summed over KV heads and divided by the KV head count (ragged heads may differ). */
  tokens: number;
}

export interface CacheMemoryReport extends MemoryReport {
  /** One report per layer, in order. */
  layers: MemoryReport[];
}

export function memoryReport(parts: Record<string, number>, tokens: number): MemoryReport {
  const clean: Record<string, number> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(parts)) {
    if (value === 0) continue;
    clean[name] = value;
    bytes += value;
  }
  return { bytes, parts: clean, tokens };
}

/** Sums layer reports into a cache report. */
export function combineReports(layers: readonly MemoryReport[]): CacheMemoryReport {
  const parts: Record<string, number> = {};
  let tokens = 0;
  for (const layer of layers) {
    for (const [name, value] of Object.entries(layer.parts)) parts[name] = (parts[name] ?? 0) + value;
    tokens += layer.tokens;
  }
  const total = memoryReport(parts, layers.length ? tokens / layers.length : 0);
  return { ...total, layers: [...layers] };
}

/**
 * Bytes an uncompressed f16 cache would hold for `tokens` tokens: the baseline of compression
 * ratios. K and V, or one copy where the values are the keys (`CacheSpec.valuesAreKeys`).
 */
export function denseF16Bytes(tokens: number, kvHeads: number, headDim: number, layers: number, valuesAreKeys = false): number {
  return tokens * kvHeads * headDim * (valuesAreKeys ? 1 : 2) /* K and V */ * 2 /* bytes per f16 */ * layers;
}

/** Bytes for a memory report: `512 B`, `1.5 KiB`, `3.05 MiB` (binary units). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(2)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}
