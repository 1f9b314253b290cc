import { listMethods as evictionMethods } from '@kvkit/kv-evict';
import { listMethods as quantizationMethods } from '@kvkit/kv-quant';
import { type CacheLayerFactory, InvalidConfigError, type MethodDescriptor, denseMethod, parseMethodSpec, resolveParams } from '@kvkit/tensor-core';
import type { MethodHelp } from './protocol.js';

/**
 * The cache methods the page offers: the dense baseline and every method of kv-quant and kv-evict
 * that needs no calibration pass (the ones that do are kv-bench's job). Specs are kv-bench's:
 * `name:key=value:…`.
 */
export const pageMethods: readonly MethodDescriptor[] = [denseMethod, ...quantizationMethods(), ...evictionMethods()].filter((m) => !m.needsCalibration);

/** The spec that leaves the choice to the model: @kvkit/llm's default cache (fused paged attention on the CPU, dense elsewhere). */
export const MODEL_DEFAULT = 'default';

/** The cache method of a spec; undefined for `default`, which `generate` turns into the model's own. */
export function methodFromPageSpec(spec: string): CacheLayerFactory | undefined {
  if (spec.trim() === MODEL_DEFAULT) return undefined;
  const { name, raw } = parseMethodSpec(spec);
  const descriptor = pageMethods.find((m) => m.name === name);
  if (!descriptor) throw new InvalidConfigError(`unknown method "${name}"; available here: ${[MODEL_DEFAULT, ...pageMethods.map((m) => m.name)].join(', ')}`);
  return descriptor.create(resolveParams(descriptor, raw), {});
}

/** Every spec name the page takes, with the help shown under the field. */
export function methodHelp(): MethodHelp[] {
  return [
    { name: MODEL_DEFAULT, help: "the model's own cache: fused paged attention on the CPU backend, the dense cache on WebGPU" },
    ...pageMethods.map((m) => ({
      name: m.name,
      help: [m.description, ...m.params.map((p) => `${p.name}=${p.default ?? '…'}  ${p.description}${p.values ? ` (${p.values.join('|')})` : ''}`)].join('\n'),
    })),
  ];
}
