import { InvalidConfigError } from '../errors.js';
import { ShaderStage } from './gpu-flags.js';
import { type BindingOptions, bindingDeclaration, type TensorBindingSpec, usesNativeF16 } from './wgsl/bindings.js';
import { includeLibrary } from './wgsl/library.js';
import { type UniformField, UniformLayout } from './wgsl/uniforms.js';

/**
 * What a WGSL kernel declares: its storage bindings (tensors, in binding order), its uniform fields
 * (shapes, strides, sizes, attributes) and its code. The backend generates the declarations and
 * accessor functions, adds the helper library functions the code calls, compiles once per `key`
 * and caches the pipeline.
 */
export interface ProgramSpec {
  /**
   * Pipeline cache key: everything the WGSL text depends on — kernel name, dtypes, rank, variant
   * flags — and nothing that varies per call (sizes, strides and attributes go in uniforms).
   */
  key: string;
  bindings: readonly TensorBindingSpec[];
  uniforms?: readonly UniformField[];
  /** Helper functions and the entry point `@compute @workgroup_size(...) fn main(...)`. */
  code: string;
}

/** A compiled program: its pipeline, bind group layout and uniform layout. */
export class Program {
  readonly key: string;
  readonly bindings: readonly TensorBindingSpec[];
  readonly uniforms: UniformLayout;
  readonly source: string;
  readonly module: GPUShaderModule;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroupLayout: GPUBindGroupLayout;

  constructor(device: GPUDevice, spec: ProgramSpec, options: BindingOptions) {
    const names = new Set<string>();
    for (const b of spec.bindings) {
      if (!/^[a-z][a-z0-9_]*$/.test(b.name) || names.has(b.name) || b.name === 'uniforms') {
        throw new InvalidConfigError(`program ${spec.key}: binding name "${b.name}" must be a unique lower-case WGSL identifier`);
      }
      names.add(b.name);
    }
    this.key = spec.key;
    this.bindings = spec.bindings;
    this.uniforms = new UniformLayout(spec.uniforms ?? []);
    this.source = programSource(spec, this.uniforms, options);
    this.bindGroupLayout = device.createBindGroupLayout({
      label: spec.key,
      entries: [
        ...spec.bindings.map((b, i) => ({
          binding: i,
          visibility: ShaderStage.COMPUTE,
          buffer: { type: (b.access === 'read' ? 'read-only-storage' : 'storage') as GPUBufferBindingType },
        })),
        { binding: spec.bindings.length, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform' as GPUBufferBindingType } },
      ],
    });
    this.module = device.createShaderModule({ label: spec.key, code: this.source });
    this.pipeline = device.createComputePipeline({
      label: spec.key,
      layout: device.createPipelineLayout({ bindGroupLayouts: [this.bindGroupLayout] }),
      compute: { module: this.module, entryPoint: 'main' },
    });
  }
}

/** The full WGSL text of a program: enables, bindings, uniforms, library helpers, kernel code. */
export function programSource(spec: ProgramSpec, layout: UniformLayout, options: BindingOptions): string {
  const declarations = [
    ...spec.bindings.map((b, i) => bindingDeclaration(b, i, options)),
    layout.wgsl(spec.bindings.length),
  ].join('\n');
  const body = `${declarations}\n${spec.code}`;
  const enable = spec.bindings.some((b) => usesNativeF16(b, options)) ? 'enable f16;\n' : '';
  return `${enable}${includeLibrary(body)}\n${body}\n`;
}
