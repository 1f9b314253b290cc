import { denseCache } from '@kvkit/tensor-core';
import { loadModel, parseSafetensors, readFloat32, serializeSafetensors } from '../../src/index.js';
import { filesOf, readReference } from './fixtures.js';

/** A checkpoint's tensors as an edit sees them: every one in f32, by name. */
export type EditableTensors = Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>;

/**
 * A fixture's files with its model.safetensors read as f32 tensors, changed by `edit` (zero a
 * tensor, add the ones a released checkpoint carries beside the model's…) and written back.
 */
export function editedCheckpoint(dir: string, edit: (tensors: EditableTensors) => void): Record<string, Uint8Array> {
  const files = filesOf(dir);
  const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
  const tensors: EditableTensors = Object.fromEntries([...file.tensors].map(([name, entry]) => [name, { dtype: 'F32' as const, shape: entry.shape, data: readFloat32(file, entry) }]));
  edit(tensors);
  files['model.safetensors'] = serializeSafetensors(tensors);
  return files;
}

/** An edit zeroing every tensor whose name ends with `suffix` (a router's selection bias, say). */
export const zeroing =
  (suffix: string) =>
  (tensors: EditableTensors): void => {
    for (const [name, t] of Object.entries(tensors)) if (name.endsWith(suffix)) t.data.fill(0);
  };

/** The logits of every position of a fixture's reference ids, run in one f32 pass by the model `files` hold. */
export async function referenceIdLogits(dir: string, files: Record<string, Uint8Array>): Promise<Float32Array> {
  const model = await loadModel({ files });
  const cache = model.createCache(denseCache({ dtype: 'f32' }));
  try {
    const logits = model.forward(Int32Array.from(readReference(dir).ids), cache, { logits: 'all' });
    const values = logits.readFloat32Sync();
    logits.dispose();
    return values;
  } finally {
    cache.dispose();
    model.dispose();
  }
}
