import { IndexOutOfRangeError, type KVCache, UnsupportedModelError } from '@kvkit/tensor-core';
import type { Segment } from './decoder-layer.js';

/**
 * Llama 4's chunked attention on its rotating layers: a token at position p sees only the earlier
 * tokens of its own chunk, ⌊p / size⌋. Each pass runs within one chunk, and the cache layers of
 * those layers are emptied (`KVCacheLayer.clear`) before the first pass of a new chunk, so that what
 * they hold is exactly what the chunk's queries see and their causal attention is the chunked one.
 * The other layers (Llama 4's NoPE layers) keep every token.
 */
export class AttentionChunks {
  constructor(
    /** attention_chunk_size. */
    readonly size: number,
    /** The cache layers that attend within chunks. */
    readonly chunkedLayers: readonly number[],
  ) {}

  /** [from, to) ranges of a request's `length` ids starting at position `start`, one per chunk they reach. */
  runs(start: number, length: number): [from: number, to: number][] {
    const runs: [number, number][] = [];
    for (let from = 0; from < length; ) {
      const to = Math.min(length, (Math.floor((start + from) / this.size) + 1) * this.size - start);
      runs.push([from, to]);
      from = to;
    }
    return runs;
  }

  /** Refuses a cache whose chunked layers cannot be emptied, which a pass into a new chunk needs. */
  assertClearable(cache: KVCache, position: number): void {
    const layer = this.chunkedLayers.map((i) => cache.layers[i]).find((l) => !l.clear);
    if (!layer) return;
    throw new UnsupportedModelError(
      `forward: position ${position} begins a new attention chunk (attention_chunk_size ${this.size}), where this model's rotating layers drop every earlier token; cache layer ${layer.layerIndex} (${layer.constructor.name}) cannot (KVCacheLayer.clear). The dense and paged caches can`,
      { layer: layer.layerIndex, position },
    );
  }

  /**
   * The segments whose pass begins a new chunk for their cache (their chunked layers to be emptied
   * first), after checking every segment: within one chunk, not before its cache's chunk, and with
   * clearable layers where it moves on. Nothing is written.
   */
  entering(segments: readonly Segment[], nextPosition: (cache: KVCache) => number): Segment[] {
    return segments.filter((segment) => {
      const first = segment.positions[0];
      const chunk = Math.floor(first / this.size);
      for (const p of segment.positions) {
        if (Math.floor(p / this.size) !== chunk) {
          throw new IndexOutOfRangeError(
            `forward: positions ${first}…${p} span two attention chunks (attention_chunk_size ${this.size}); forward splits one request's ids at the chunk boundary, forwardBatch and given positions do not`,
            { position: p },
          );
        }
      }
      const next = nextPosition(segment.cache);
      const held = next === 0 ? chunk : Math.floor((next - 1) / this.size);
      if (chunk < held) throw new IndexOutOfRangeError(`forward: position ${first} is in an earlier attention chunk than the cache's tokens (up to ${next - 1})`, { position: first });
      if (chunk === held) return false;
      this.assertClearable(segment.cache, first);
      return true;
    });
  }

  /** Empties the chunked layers of each segment's cache. */
  clear(segments: readonly Segment[]): void {
    for (const { cache } of segments) for (const i of this.chunkedLayers) cache.layers[i].clear!();
  }
}
