import { createRng, InvalidConfigError, slice, type Tensor } from '@kvkit/tensor-core';
import { observeHeads } from '../attend/attend-heads.js';
import { type GqaReduce, reduceGroup } from '../gqa.js';
import { echoInduction, type RetrievalHeadProfile } from './retrieval-heads.js';

/** One decoder layer's queries and keys, as @kvkit/llm's `onLayer` reports them (both after RoPE). */
export interface ProbeLayerEvent {
  layerIndex: number;
  /** [qHeads, n, headDim]. */
  q: Tensor;
  /** [kvHeads, n, headDim]. */
  key: Tensor;
}

export interface RetrievalProbeOptions {
  /** Runs the model on `ids` (one prefill) and calls `onLayer` for every layer. */
  run: (ids: Int32Array, onLayer: (event: ProbeLayerEvent) => void) => void | Promise<void>;
  numLayers: number;
  /** Random tokens are drawn from [low, high) (avoid special tokens). */
  tokenRange: [number, number];
  /** Tokens before the probe (BOS). */
  prefix?: Int32Array;
  /** Length of the random segment, which is then repeated once (default 64). */
  length?: number;
  seed?: number;
  /** How a KV head's query heads combine (default max: a KV head retrieves if one of its query heads does). */
  gqa?: GqaReduce;
}

/**
 * RazorAttention's probe: a random token segment repeated twice. In the second copy, a retrieval
 * head attends to the same token in the first copy (echo) or to the one after it (induction). Runs
 * the model once and measures both per (layer, KV head) from the layers' queries and keys.
 */
export async function profileRetrievalHeads(options: RetrievalProbeOptions): Promise<RetrievalHeadProfile> {
  const length = options.length ?? 64;
  const [low, high] = options.tokenRange;
  if (!Number.isInteger(length) || length < 2) throw new InvalidConfigError(`razor probe: length must be an integer >= 2, got ${length}`);
  if (!(Number.isInteger(low) && Number.isInteger(high) && high - low >= 2)) throw new InvalidConfigError(`razor probe: tokenRange must hold at least 2 token ids, got [${low}, ${high})`);
  const rng = createRng(options.seed ?? 0);
  const segment = Int32Array.from({ length }, () => low + rng.int(high - low));
  const prefix = options.prefix ?? new Int32Array(0);
  const ids = new Int32Array(prefix.length + 2 * length);
  ids.set(prefix);
  ids.set(segment, prefix.length);
  ids.set(segment, prefix.length + length);
  const profile: RetrievalHeadProfile = { echo: new Array(options.numLayers), induction: new Array(options.numLayers) };
  await options.run(ids, (event) => {
    const [qHeads, n, d] = event.q.shape;
    const kvHeads = event.key.shape[0];
    const group = qHeads / kvHeads;
    const positions = Int32Array.from({ length: n }, (_, i) => i);
    const start = prefix.length + length;
    const heads = Array.from({ length: kvHeads }, (_, h) => {
      const keys = slice(event.key, [h, 0, 0], [h + 1, n, d]);
      return { keys, values: keys, positions };
    });
    const queries = slice(event.q, [0, start, 0], [qHeads, n, d]);
    try {
      const observations = observeHeads(queries, heads, { positions: positions.subarray(start), observe: { rows: n - start, perRow: n - start } });
      const queryIndex = positions.subarray(start);
      profile.echo[event.layerIndex] = [];
      profile.induction[event.layerIndex] = [];
      observations.forEach((obs) => {
        const rows = reduceGroup(obs.perRow!, group, n, options.gqa ?? 'max', obs.perRowCount);
        const scores = echoInduction(rows, obs.perRowCount, n, queryIndex, ids);
        profile.echo[event.layerIndex].push(scores.echo);
        profile.induction[event.layerIndex].push(scores.induction);
      });
    } finally {
      queries.dispose();
      for (const h of heads) h.keys.dispose();
    }
  });
  for (let l = 0; l < options.numLayers; l++) {
    if (!profile.echo[l]) throw new InvalidConfigError(`razor probe: the model run reported no queries/keys for layer ${l}`);
  }
  return profile;
}
