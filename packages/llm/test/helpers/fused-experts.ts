import { parseSafetensors, readFloat32, serializeSafetensors } from '../../src/index.js';

/** Each released per-expert projection name and what transformers 5 fuses it into (its part: gate rows first). */
const FUSED_INTO: Record<string, { fused: string; part: number; of: number }> = {
  w1: { fused: 'gate_up_proj', part: 0, of: 2 },
  w3: { fused: 'gate_up_proj', part: 1, of: 2 },
  w2: { fused: 'down_proj', part: 0, of: 1 },
  gate_proj: { fused: 'gate_up_proj', part: 0, of: 2 },
  up_proj: { fused: 'gate_up_proj', part: 1, of: 2 },
  down_proj: { fused: 'down_proj', part: 0, of: 1 },
};

/**
 * A fixture's model.safetensors with each mixture's experts fused as transformers 5's
 * save_pretrained writes them (its conversion mapping read backwards): `experts.gate_up_proj`
 * [experts, 2 · size, hidden] (each expert's gate rows, then its up rows), `experts.down_proj`
 * [experts, hidden, size]; ungated experts (`ungated`: Nemotron-H's) `experts.up_proj` and
 * `experts.down_proj`. Mixtral's `block_sparse_moe` becomes `mlp`. Everything else is kept as stored (in f32).
 */
export function fuseExperts(safetensors: Uint8Array, ungated = false): Uint8Array {
  const file = parseSafetensors(safetensors, 'model.safetensors');
  const out: Parameters<typeof serializeSafetensors>[0] = {};
  const groups = new Map<string, { shape: number[]; of: number; experts: Map<number, Float32Array[]> }>();
  for (const [name, entry] of file.tensors) {
    const data = readFloat32(file, entry);
    const renamed = name.replace('.block_sparse_moe.', '.mlp.');
    const match = /^(.*\.experts)\.(\d+)\.(\w+)\.weight$/.exec(renamed);
    if (!match) {
      out[renamed] = { dtype: 'F32', shape: entry.shape, data };
      continue;
    }
    const [, experts, index, projection] = match;
    const into = ungated ? { fused: projection, part: 0, of: 1 } : FUSED_INTO[projection];
    const key = `${experts}.${into.fused}`;
    const group = groups.get(key) ?? { shape: entry.shape, of: into.of, experts: new Map() };
    groups.set(key, group);
    const parts = group.experts.get(Number(index)) ?? [];
    parts[into.part] = data;
    group.experts.set(Number(index), parts);
  }
  for (const [name, { shape, of, experts }] of groups) {
    const count = experts.size;
    const data = new Float32Array(count * of * shape[0] * shape[1]);
    for (let e = 0; e < count; e++) experts.get(e)!.forEach((part, i) => data.set(part, (e * of + i) * part.length));
    out[name] = { dtype: 'F32', shape: [count, of * shape[0], shape[1]], data };
  }
  return serializeSafetensors(out);
}
