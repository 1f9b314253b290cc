import type { LayerActivations, LlamaModel } from '@kvkit/llm';
import { denseCache, type MethodContext, type MethodDescriptor } from '@kvkit/tensor-core';

/**
 * Calibration for the rows that fit on the model (KVQuant, coupled quantization, the low-rank
 * projections): one dense pass over held-out calibration text (`<model>/eval/calibration.txt`,
 * never the evaluation text), collected into each package's own store. The result is plain JSON
 * per package, so worker threads load it instead of running the model again.
 */
export type CalibrationData = Partial<Record<CalibratedPackage, unknown>>;

const CALIBRATED_PACKAGES = ['@kvkit/kv-quant', '@kvkit/kv-lowrank'] as const;
type CalibratedPackage = (typeof CALIBRATED_PACKAGES)[number];

/** The packages among `descriptors` whose chosen methods need calibration. */
export function packagesNeedingCalibration(descriptors: readonly MethodDescriptor[]): CalibratedPackage[] {
  return CALIBRATED_PACKAGES.filter((pkg) => descriptors.some((d) => d.needsCalibration && d.package === pkg));
}

/** Runs the model over `text` until `tokens` tokens per layer are collected for each package. */
export async function collectCalibration(model: LlamaModel, text: string, packages: readonly CalibratedPackage[], tokens = 2048): Promise<CalibrationData> {
  if (packages.length === 0) return {};
  const { numHeads, numKvHeads, headDim, maxPositions, attentionLayers } = model.config;
  // One calibration layer per KV-cache layer (a hybrid model's convolution layers have none).
  const numLayers = attentionLayers.length;
  const { rope: rope0, layerRopes } = model.cacheSpec();
  const observers: ((event: LayerActivations) => void)[] = [];
  const finishers: [CalibratedPackage, () => unknown][] = [];

  if (packages.includes('@kvkit/kv-quant')) {
    const { KVCalibrationCollector } = await import('@kvkit/kv-quant');
    const collector = new KVCalibrationCollector({ numLayers, kvHeads: numKvHeads, headDim, qHeads: numHeads, rope: rope0, layerRopes, maxTokens: tokens });
    observers.push((event) => collector.add(event));
    finishers.push(['@kvkit/kv-quant', () => collector.finish().toJSON()]);
  }
  if (packages.includes('@kvkit/kv-lowrank')) {
    const { KVCalibrationSet } = await import('@kvkit/kv-lowrank');
    const set = new KVCalibrationSet({ numLayers, qHeads: numHeads, kvHeads: numKvHeads, headDim, maxTokens: tokens, rope: rope0 });
    // DeepSeek's latent attention has no per-head W_k / W_v: its fits come from activations alone.
    if (!model.config.latentAttention) for (let layer = 0; layer < numLayers; layer++) set.setWeights(layer, model.attentionWeights(layer));
    observers.push((event) => void set.add(event));
    finishers.push(['@kvkit/kv-lowrank', () => set.toJSON()]);
  }

  const ids = model.tokenizer.encode(text);
  const chunk = Math.min(maxPositions, 1024);
  for (let start = 0; start < Math.min(ids.length, tokens); start += chunk) {
    const cache = model.createCache(denseCache({ dtype: 'f32' }));
    try {
      model.forward(ids.subarray(start, start + chunk), cache, { logits: 'last', onLayer: (event) => observers.forEach((o) => o(event)) }).dispose();
    } finally {
      cache.dispose();
    }
  }
  return Object.fromEntries(finishers.map(([pkg, finish]) => [pkg, finish()]));
}

/** Loads collected data into what each package's methods take as `context.calibration`. */
export async function calibrationContexts(data: CalibrationData): Promise<Map<string, MethodContext>> {
  const contexts = new Map<string, MethodContext>();
  if (data['@kvkit/kv-quant'] !== undefined) {
    const { KVCalibration } = await import('@kvkit/kv-quant');
    contexts.set('@kvkit/kv-quant', { calibration: KVCalibration.load(data['@kvkit/kv-quant'] as Parameters<typeof KVCalibration.load>[0]) });
  }
  if (data['@kvkit/kv-lowrank'] !== undefined) {
    const { KVCalibrationSet } = await import('@kvkit/kv-lowrank');
    contexts.set('@kvkit/kv-lowrank', { calibration: KVCalibrationSet.load(data['@kvkit/kv-lowrank']) });
  }
  return contexts;
}
