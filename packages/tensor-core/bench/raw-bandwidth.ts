/**
 * Memory-bound kernel shapes written against the device directly (no kvkit backend in between), all
 * on the same three buffers, so one GPU run tells which shape reaches the copy bandwidth: one u32 or
 * one vec4<u32> per invocation over a 2-D grid (kvkit's map template is the u32 / 256 one), the same
 * as grid-stride loops over a fixed number of workgroups, workgroup sizes 64 and 256, an f32 add,
 * and the copy engine (`copyBufferToBuffer`). Every variant's output is checked word for word on
 * the GPU after its timed run.
 */
import { BufferUsage, MapMode, ShaderStage } from '../src/webgpu/gpu-flags.js';
import { type RawWork, type SustainOptions, type Sustained, stampMs, sustainRaw } from './sustained.js';

export interface RawVariant {
  name: string;
  /** One invocation moves a `u32` or a `vec4<u32>`. */
  width: 1 | 4;
  workgroupSize: 64 | 256;
  /** Grid-stride loop over this many workgroups; one-shot over a 2-D grid when absent. */
  workgroups?: number;
  op: 'copy' | 'add f32';
}

export interface RawResult extends Sustained {
  name: string;
  bytes: number;
  /** Words of the output that differ from the expected value (0 = correct). */
  wrongWords: number;
}

/** PCG hash (per word), and a nonzero float in [-0.5, 0.5) from it: the fill of both sources. */
const FILL_WGSL = `
fn hash(i: u32) -> u32 {
  let s = i * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn fill_value(i: u32) -> u32 { return bitcast<u32>(f32((hash(i) >> 9u) | 1u) * 1.1920929e-7 - 0.5); }`;

const ADD4 = 'bitcast<vec4<u32>>(bitcast<vec4<f32>>(a[i]) + bitcast<vec4<f32>>(b[i]))';
const ADD1 = 'bitcast<u32>(bitcast<f32>(a[i]) + bitcast<f32>(b[i]))';

function header(type: string): string {
  return `struct Params { n: u32, seed: u32 }
@group(0) @binding(0) var<storage, read> a: array<${type}>;
@group(0) @binding(1) var<storage, read> b: array<${type}>;
@group(0) @binding(2) var<storage, read_write> d: array<${type}>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> bad: atomic<u32>;`;
}

/** WGSL of a variant: `d[i] = f(a[i], b[i])` for i < p.n (elements of `u32` or `vec4<u32>`). */
export function variantSource(v: RawVariant): string {
  const type = v.width === 4 ? 'vec4<u32>' : 'u32';
  const expression = v.op === 'copy' ? 'a[i]' : v.width === 4 ? ADD4 : ADD1;
  const entry = `@compute @workgroup_size(${v.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = (wid.x + wid.y * nwg.x) * ${v.workgroupSize}u + lid;`;
  const body =
    v.workgroups === undefined
      ? `  let i = first;
  if (i >= p.n) { return; }
  d[i] = ${expression};`
      : `  let stride = nwg.x * nwg.y * ${v.workgroupSize}u;
  for (var i = first; i < p.n; i = i + stride) { d[i] = ${expression}; }`;
  return `${header(type)}\n${entry}\n${body}\n}\n`;
}

const FILL_SOURCE = `${header('u32')}${FILL_WGSL}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < p.n) { d[i] = fill_value(i ^ p.seed); }
}
`;

function checkSource(op: RawVariant['op']): string {
  return `${header('u32')}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < p.n && d[i] != ${op === 'copy' ? 'a[i]' : ADD1}) { atomicAdd(&bad, 1u); }
}
`;
}

/** Three buffers of `words` u32 (sources a, b and destination d) on `device`, and the variants run over them. */
export class RawBandwidth {
  private readonly a: GPUBuffer;
  private readonly b: GPUBuffer;
  private readonly d: GPUBuffer;
  /** One small uniform buffer per (n, seed): writeBuffer between dispatches of one command buffer would not order with them. */
  private readonly params = new Map<string, GPUBuffer>();
  private readonly bad: GPUBuffer;
  private readonly layout: GPUBindGroupLayout;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly maxPerDimension: number;

  constructor(
    private readonly device: GPUDevice,
    private readonly words: number,
  ) {
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
    const make = (label: string) => device.createBuffer({ label, size: words * 4, usage });
    this.a = make('bench a');
    this.b = make('bench b');
    this.d = make('bench d');
    this.bad = device.createBuffer({ label: 'bench check', size: 4, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    const types: GPUBufferBindingType[] = ['read-only-storage', 'read-only-storage', 'storage', 'uniform', 'storage'];
    this.layout = device.createBindGroupLayout({ entries: types.map((type, binding) => ({ binding, visibility: ShaderStage.COMPUTE, buffer: { type } })) });
    this.maxPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** Fills a and b with distinct nonzero floats (on the GPU: no host pause before the timed work). */
  fill(): void {
    const encoder = this.device.createCommandEncoder();
    const groups = this.grid(Math.ceil(this.words / 256));
    this.encodeDispatch(encoder, this.pipeline('fill', FILL_SOURCE), this.bindGroup(this.d, this.d, this.a, this.words, 0x1234), groups);
    this.encodeDispatch(encoder, this.pipeline('fill', FILL_SOURCE), this.bindGroup(this.d, this.d, this.b, this.words, 0x9876), groups);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Warm-up, timed batch (timestamps around each pass when `timestamps`), then the output check. */
  async run(v: RawVariant, options: SustainOptions, timestamps: boolean): Promise<RawResult> {
    const pipeline = this.pipeline(`${v.op}:${v.width}:${v.workgroupSize}:${v.workgroups ?? 'grid'}`, variantSource(v));
    const elements = this.words / v.width;
    const group = this.bindGroup(this.a, this.b, this.d, elements);
    const workgroups = v.workgroups === undefined ? this.grid(Math.ceil(elements / v.workgroupSize)) : [v.workgroups, 1];
    const work: RawWork = {
      record: (encoder, reps, querySet) => {
        for (let r = 0; r < reps; r++) {
          const timestampWrites = querySet ? { querySet, beginningOfPassWriteIndex: 2 * r, endOfPassWriteIndex: 2 * r + 1 } : undefined;
          this.encodeDispatch(encoder, pipeline, group, workgroups, timestampWrites);
        }
      },
      queries: (reps) => 2 * reps,
      durations: (stamps, reps) => Array.from({ length: reps }, (_, r) => stampMs(stamps, 2 * r, 2 * r + 1)),
      source: 'pass timestamps',
    };
    this.clearOutput();
    const timing = await sustainRaw(this.device, work, options, timestamps);
    const bytes = (v.op === 'copy' ? 8 : 12) * this.words;
    return { name: v.name, bytes, ...timing, wrongWords: await this.check(v.op) };
  }

  /**
   * The copy engine: `reps` copyBufferToBuffer of a into d in one command buffer. Timed by wall
   * time over the batch and, with timestamps, by empty compute passes between the copies (copy r
   * lasts from the end of pass r to the beginning of pass r + 1; this depends on the driver writing
   * pass timestamps after earlier commands finish, so the wall figure is the reference).
   */
  async runCopyEngine(options: SustainOptions, timestamps: boolean): Promise<RawResult> {
    const bytes = this.words * 4;
    const work: RawWork = {
      record: (encoder, reps, querySet) => {
        const mark = (p: number) => {
          if (!querySet) return;
          encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * p, endOfPassWriteIndex: 2 * p + 1 } }).end();
        };
        for (let r = 0; r < reps; r++) {
          mark(r);
          encoder.copyBufferToBuffer(this.a, 0, this.d, 0, bytes);
        }
        mark(reps);
      },
      queries: (reps) => 2 * (reps + 1),
      durations: (stamps, reps) => Array.from({ length: reps }, (_, r) => stampMs(stamps, 2 * r + 1, 2 * r + 2)),
      source: 'timestamps around copies',
    };
    this.clearOutput();
    const timing = await sustainRaw(this.device, work, options, timestamps);
    const wall = await sustainRaw(this.device, work, { ...options, warmupMs: 0 }, false);
    return { name: 'copy engine (copyBufferToBuffer, one command buffer)', bytes: 2 * bytes, ...timing, wallMs: wall.wallMs, wrongWords: await this.check('copy') };
  }

  dispose(): void {
    for (const buffer of [this.a, this.b, this.d, this.bad, ...this.params.values()]) buffer.destroy();
  }

  private pipeline(key: string, code: string): GPUComputePipeline {
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layout] }),
        compute: { module: this.device.createShaderModule({ label: key, code }), entryPoint: 'main' },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  private bindGroup(a: GPUBuffer, b: GPUBuffer, d: GPUBuffer, n: number, seed = 0): GPUBindGroup {
    const key = `${n}:${seed}`;
    let params = this.params.get(key);
    if (!params) {
      params = this.device.createBuffer({ label: `bench params ${key}`, size: 16, usage: BufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint32Array(params.getMappedRange()).set([n, seed]);
      params.unmap();
      this.params.set(key, params);
    }
    return this.device.createBindGroup({
      layout: this.layout,
      entries: [a, b, d, params, this.bad].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** A [x, y] grid of at least `groups` workgroups (index x + y·nx), as the kvkit backend builds it. */
  private grid(groups: number): number[] {
    if (groups <= this.maxPerDimension) return [groups, 1];
    const y = Math.ceil(groups / this.maxPerDimension);
    return [Math.ceil(groups / y), y];
  }

  private encodeDispatch(
    encoder: GPUCommandEncoder,
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
    workgroups: number[],
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1]);
    pass.end();
  }

  private clearOutput(): void {
    const encoder = this.device.createCommandEncoder();
    encoder.clearBuffer(this.d);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Words of d that differ from the expected result of `op` (computed again on the GPU). */
  private async check(op: RawVariant['op']): Promise<number> {
    const staging = this.device.createBuffer({ size: 4, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.clearBuffer(this.bad);
    this.encodeDispatch(encoder, this.pipeline(`check:${op}`, checkSource(op)), this.bindGroup(this.a, this.b, this.d, this.words), this.grid(Math.ceil(this.words / 256)));
    encoder.copyBufferToBuffer(this.bad, 0, staging, 0, 4);
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(MapMode.READ);
      return new Uint32Array(staging.getMappedRange().slice(0))[0];
    } finally {
      staging.destroy();
    }
  }
}
