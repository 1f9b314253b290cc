import { CorruptModelFileError } from '@kvkit/tensor-core';
import { parseJson } from './model-source.js';

/** The index of a sharded checkpoint (`model.safetensors.index.json`): which shard holds each tensor. */
export interface ShardIndex {
  fileName: string;
  /** Tensor name → shard file name. */
  weightMap: Map<string, string>;
  /** The shard files, in first-mention order. */
  shards: string[];
}

export const SHARD_INDEX_FILE = 'model.safetensors.index.json';

/** Parses and checks a shard index; shard names must be plain file names inside the model directory. */
export function parseShardIndex(bytes: Uint8Array, fileName = SHARD_INDEX_FILE): ShardIndex {
  const raw = parseJson(bytes, fileName);
  const weightMap = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new CorruptModelFileError(fileName, 'needs a "weight_map" object mapping tensor names to shard files');
  }
  const map = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard === '.' || shard === '..') {
      throw new CorruptModelFileError(fileName, `weight_map entry "${tensor}" must name a shard file in the same directory, got ${JSON.stringify(shard)}`);
    }
    map.set(tensor, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (map.size === 0) throw new CorruptModelFileError(fileName, 'weight_map is empty');
  return { fileName, weightMap: map, shards };
}
