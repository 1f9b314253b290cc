import type { Backend, Storage } from '../backend.js';
import { allocateHostArray, bytesPerElement, type DType, type HostArray, hostArrayMatches } from '../dtype.js';
import { BackendMismatchError, DisposedError, DTypeMismatchError, InvalidConfigError, type KvkitError, OutOfMemoryError } from '../errors.js';
import { type Shape, sizeOf } from '../shape.js';
import { SharedStorage, Tensor } from '../tensor.js';
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { type AcquiredDevice, acquireDevice, type WebGpuDeviceOptions } from './device.js';
import { deviceLost, fromGpuError, WebGpuValidationError } from './errors.js';
import { BufferUsage, MapMode } from './gpu-flags.js';
import { PassTimer } from './pass-timer.js';
import { Program, type ProgramSpec } from './program.js';
import { STATUS_WORDS, StatusCounters } from './status-counters.js';
import type { UniformValues } from './wgsl/uniforms.js';

export interface WebGpuBackendOptions extends WebGpuDeviceOptions {
  /** Refuse tensors above this many bytes (default and upper bound: the device's maxStorageBufferBindingSize). */
  maxBufferBytes?: number;
  /** Idle bytes the buffer pool may keep for reuse (default 256 MiB). */
  maxPooledBytes?: number;
  /** Dispatches recorded before the batch is submitted (default 512). */
  maxDispatchesPerSubmit?: number;
}

/** A tensor's GPU memory: a pooled buffer (possibly larger than asked) and the bytes in use. */
export class WebGpuStorage implements Storage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
  ) {}
}

export interface WebGpuMemoryStats {
  /** Bytes of live tensors (as requested). */
  liveBytes: number;
  /** Bytes of the buffers behind them (size classes round up). */
  liveBufferBytes: number;
  pool: PoolStats;
}

export interface GpuTiming {
  /**
   * Sum of the compute passes' GPU time (timestamp-query); undefined without the feature or when
   * no compute pass ran (buffer copies and clears are outside passes and only in `wallMs`).
   */
  gpuMs: number | undefined;
  /** Host time from the first recorded command to completion. */
  wallMs: number;
}

/** Uniform bytes of one batch; every dispatch takes a 256-byte-aligned slot. */
const UNIFORM_ARENA_BYTES = 1 << 20;
const UNIFORM_ALIGN = 256;
const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/**
 * The WebGPU backend. Work is recorded, not run: kernels append dispatches to one command encoder
 * (one compute pass, uniforms from one arena buffer) that is submitted when a read needs it, when
 * `synchronize()` is called, or every `maxDispatchesPerSubmit` dispatches. Buffers come from a pool
 * keyed by size class; a buffer released while the unsubmitted batch still uses it returns to the
 * pool only after that batch is submitted (queue order then protects later writes).
 */
export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly synchronous = false;
  readonly device: GPUDevice;
  /** Adapter vendor/architecture/description (empty strings where the platform hides them). */
  readonly info: AcquiredDevice['info'];
  readonly features: ReadonlySet<string>;
  /** The largest tensor, in bytes, this backend accepts. */
  readonly maxBufferBytes: number;
  readonly maxWorkgroupsPerDimension: number;
  /** f16 tensors use `array<f16>` (the device has `shader-f16`). */
  readonly nativeF16: boolean;
  readonly status = new StatusCounters();

  private readonly owned: boolean;
  /** Held only to keep the native instance alive as long as the device (see AcquiredDevice.gpu). */
  private gpuInstance: GPU | undefined;
  private readonly pool: BufferPool;
  private readonly stagingPool: BufferPool;
  private readonly programs = new Map<string, Program>();
  private readonly uniformArena: GPUBuffer;
  private readonly uniformHost = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  private readonly statusBuffer: GPUBuffer;
  private readonly maxDispatches: number;
  private readonly live = new Set<GPUBuffer>();
  private readonly inFlight = new Set<GPUBuffer>();
  private readonly lostWaiters = new Set<(error: unknown) => void>();
  private deferred: GPUBuffer[] = [];
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private dispatches = 0;
  private uniformUsed = 0;
  private held = 0;
  private compileMs = 0;
  private heldBuffers = 0;
  private timer: PassTimer | undefined;
  private captured: KvkitError | undefined;
  private lost: KvkitError | undefined;
  private disposed = false;

  /** Acquires a device (see `WebGpuDeviceOptions`) and builds the backend on it. */
  static async create(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    return new WebGpuBackend(await acquireDevice(options), options);
  }

  constructor(acquired: AcquiredDevice, options: WebGpuBackendOptions = {}) {
    const { device } = acquired;
    this.device = device;
    this.owned = acquired.owned;
    this.gpuInstance = acquired.gpu;
    this.info = acquired.info;
    this.features = new Set([...device.features].map(String));
    const limits = device.limits;
    const bindable = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    this.maxBufferBytes = Math.min(bindable, options.maxBufferBytes ?? Infinity);
    this.maxWorkgroupsPerDimension = limits.maxComputeWorkgroupsPerDimension;
    this.nativeF16 = this.features.has('shader-f16');
    this.maxDispatches = options.maxDispatchesPerSubmit ?? 512;
    this.pool = new BufferPool(device, STORAGE_USAGE, 'kvkit tensor', options.maxPooledBytes ?? 256 * 2 ** 20, bindable);
    this.stagingPool = new BufferPool(device, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'kvkit read-back', 64 * 2 ** 20, limits.maxBufferSize);
    this.uniformArena = device.createBuffer({ label: 'kvkit uniforms', size: UNIFORM_ARENA_BYTES, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    this.statusBuffer = device.createBuffer({ label: 'kvkit status', size: STATUS_WORDS * 4, usage: STORAGE_USAGE });
    device.addEventListener('uncapturederror', (event) => {
      this.captured ??= fromGpuError((event as GPUUncapturedErrorEvent).error, 'uncaptured error');
    });
    void device.lost.then((info) => {
      if (this.disposed) return;
      this.lost = deviceLost(info.reason, info.message);
      for (const reject of this.lostWaiters) reject(this.lost);
    });
  }

  // ---- Backend interface ----

  allocate(dtype: DType, length: number): WebGpuStorage {
    const bytes = this.checkSize(dtype, length);
    const { buffer, fresh } = this.pool.acquire(bytes);
    if (!fresh && bytes > 0) {
      // A reused buffer holds old data; the clear runs in order with the recorded kernels.
      this.commandEncoderOutsidePass().clearBuffer(buffer, 0, Math.ceil(bytes / 4) * 4);
      this.inFlight.add(buffer);
    }
    return this.track(buffer, bytes);
  }

  upload(dtype: DType, data: HostArray): WebGpuStorage {
    if (!hostArrayMatches(dtype, data)) {
      throw new DTypeMismatchError(`webgpu upload: a ${data.constructor.name} cannot hold ${dtype} data`, { dtype });
    }
    const bytes = this.checkSize(dtype, data.length);
    // Pooled buffers are never used by the unsubmitted batch, so writing them now is safe.
    const { buffer } = this.pool.acquire(bytes);
    if (bytes > 0) {
      const padded = bytes % 4 === 0 ? new Uint8Array(data.buffer, data.byteOffset, bytes) : padTo4(data);
      this.device.queue.writeBuffer(buffer, 0, padded.buffer, padded.byteOffset, padded.byteLength);
    }
    return this.track(buffer, bytes);
  }

  async download(storage: Storage, dtype: DType, offset: number, length: number): Promise<HostArray> {
    this.assertUsable();
    const out = allocateHostArray(dtype, length);
    if (length === 0) return out;
    const bpe = bytesPerElement(dtype);
    const start = offset * bpe;
    const alignedStart = start - (start % 4);
    const alignedEnd = Math.ceil((start + length * bpe) / 4) * 4;
    const size = alignedEnd - alignedStart;
    const { buffer: source } = storage as WebGpuStorage;
    const { buffer: staging } = this.stagingPool.acquire(size + STATUS_WORDS * 4);
    const encoder = this.commandEncoderOutsidePass();
    encoder.copyBufferToBuffer(source, alignedStart, staging, 0, size);
    encoder.copyBufferToBuffer(this.statusBuffer, 0, staging, size, STATUS_WORDS * 4);
    this.inFlight.add(source);
    this.flush();
    await this.whileAlive(staging.mapAsync(MapMode.READ, 0, size + STATUS_WORDS * 4));
    const mapped = staging.getMappedRange(0, size + STATUS_WORDS * 4);
    new Uint8Array(out.buffer).set(new Uint8Array(mapped, start - alignedStart, length * bpe));
    const status = new Uint32Array(mapped.slice(size, size + STATUS_WORDS * 4));
    staging.unmap();
    this.stagingPool.release(staging);
    this.throwReported(status);
    return out;
  }

  release(storage: Storage): void {
    const { buffer, byteLength } = storage as WebGpuStorage;
    if (!this.live.delete(buffer)) return;
    this.held -= byteLength;
    this.heldBuffers -= buffer.size;
    if (this.disposed || this.lost) return;
    if (this.inFlight.has(buffer)) this.deferred.push(buffer);
    else this.pool.release(buffer);
  }

  bytesInUse(): number {
    return this.held;
  }

  /** Submits everything recorded, waits for the GPU, and reports errors kernels or the device raised. */
  async synchronize(): Promise<void> {
    this.assertUsable();
    const { buffer: staging } = this.stagingPool.acquire(STATUS_WORDS * 4);
    this.commandEncoderOutsidePass().copyBufferToBuffer(this.statusBuffer, 0, staging, 0, STATUS_WORDS * 4);
    this.flush();
    await this.whileAlive(staging.mapAsync(MapMode.READ, 0, STATUS_WORDS * 4));
    const status = new Uint32Array(staging.getMappedRange(0, STATUS_WORDS * 4).slice(0));
    staging.unmap();
    this.stagingPool.release(staging);
    this.throwReported(status);
  }

  /** Destroys every buffer and, when the backend created it, the device (so Node can exit). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder = undefined;
    this.pass = undefined;
    for (const reject of this.lostWaiters) reject(new DisposedError('webgpu backend'));
    for (const buffer of [...this.live, ...this.deferred]) buffer.destroy();
    this.live.clear();
    this.pool.trim(0);
    this.stagingPool.trim(0);
    this.uniformArena.destroy();
    this.statusBuffer.destroy();
    this.programs.clear();
    this.held = 0;
    this.heldBuffers = 0;
    if (this.owned) this.device.destroy();
    this.gpuInstance = undefined;
  }

  // ---- for kernels (ours and other packages') ----

  /** A tensor of `shape` whose contents are undefined (for outputs a kernel fills completely). */
  empty(shape: Shape, dtype: DType): Tensor {
    const bytes = this.checkSize(dtype, sizeOf(shape));
    return new Tensor(new SharedStorage(this, this.track(this.pool.acquire(bytes).buffer, bytes)), shape, dtype);
  }

  /** A zero-filled tensor. */
  zeros(shape: Shape, dtype: DType): Tensor {
    return new Tensor(new SharedStorage(this, this.allocate(dtype, sizeOf(shape))), shape, dtype);
  }

  /** The compiled program for `key`, building it with `spec()` on first use. */
  program(key: string, spec: () => Omit<ProgramSpec, 'key'>): Program {
    this.assertUsable();
    let program = this.programs.get(key);
    if (!program) {
      const full = { ...spec(), key };
      const started = performance.now();
      program = new Program(this.device, full, { nativeF16: this.nativeF16 });
      this.compileMs += performance.now() - started;
      this.programs.set(key, program);
      this.watchCompilation(program);
    }
    return program;
  }

  /** Compiled pipelines (one per kernel, dtypes, rank and variant) and the host time spent creating them. */
  pipelineStats(): { pipelines: number; compileMs: number } {
    return { pipelines: this.programs.size, compileMs: this.compileMs };
  }

  /**
   * Records one dispatch of `program`. `buffers` follow the program's bindings (tensors bind their
   * whole buffer: pass offsets and strides as uniforms); `workgroups` is [x, y?, z?].
   */
  dispatch(program: Program, buffers: readonly (Tensor | WebGpuStorage)[], uniforms: UniformValues, workgroups: readonly number[]): void {
    this.assertUsable();
    if (buffers.length !== program.bindings.length) {
      throw new InvalidConfigError(`${program.key}: ${program.bindings.length} bindings declared, ${buffers.length} given`);
    }
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    for (const n of [x, y, z]) {
      if (!Number.isInteger(n) || n < 0 || n > this.maxWorkgroupsPerDimension) {
        throw new InvalidConfigError(`${program.key}: ${n} workgroups in one dimension; this device allows 1..${this.maxWorkgroupsPerDimension}`);
      }
    }
    const gpuBuffers = buffers.map((b) => this.bufferOf(b, program.key));
    const uniformBytes = program.uniforms.words * 4;
    const slot = Math.ceil(uniformBytes / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    if (this.uniformUsed + slot > UNIFORM_ARENA_BYTES) this.flush();
    const offset = this.uniformUsed;
    program.uniforms.pack(uniforms, this.uniformHost, offset / 4);
    this.uniformUsed += slot;
    const bindGroup = this.device.createBindGroup({
      layout: program.bindGroupLayout,
      entries: [
        ...gpuBuffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
        { binding: gpuBuffers.length, resource: { buffer: this.uniformArena, offset, size: uniformBytes } },
      ],
    });
    const pass = this.computePass();
    pass.setPipeline(program.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    for (const buffer of gpuBuffers) this.inFlight.add(buffer);
    if (++this.dispatches >= this.maxDispatches) this.flush();
  }

  /** A [x, y] grid of at least `groups` workgroups within the per-dimension limit (index: x + y·nx). */
  grid(groups: number): [number, number] {
    if (groups <= this.maxWorkgroupsPerDimension) return [groups, 1];
    const y = Math.ceil(groups / this.maxWorkgroupsPerDimension);
    return [Math.ceil(groups / y), y];
  }

  /** The status buffer, for kernels that report bad input (bind it as `words` named `status`). */
  get statusStorage(): WebGpuStorage {
    return new WebGpuStorage(this.statusBuffer, STATUS_WORDS * 4);
  }

  /** Copies `bytes` bytes between buffers, in order with the recorded kernels (4-byte aligned). */
  copyBuffer(from: WebGpuStorage, fromOffset: number, to: WebGpuStorage, toOffset: number, bytes: number): void {
    this.assertUsable();
    if (bytes === 0) return;
    this.commandEncoderOutsidePass().copyBufferToBuffer(from.buffer, fromOffset, to.buffer, toOffset, bytes);
    this.inFlight.add(from.buffer);
    this.inFlight.add(to.buffer);
  }

  /** Submits the recorded batch now (reads and `synchronize()` do this themselves). */
  flush(): void {
    if (this.encoder && !this.lost && !this.disposed) {
      this.endPass();
      if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformHost, 0, this.uniformUsed);
      this.device.queue.submit([this.encoder.finish()]);
    }
    this.encoder = undefined;
    this.pass = undefined;
    this.dispatches = 0;
    this.uniformUsed = 0;
    this.inFlight.clear();
    const ready = this.deferred;
    this.deferred = [];
    for (const buffer of ready) this.pool.release(buffer);
  }

  /**
   * Runs `body` (which records kernels) and measures it: GPU time of its compute passes from
   * `timestamp-query` when the device has it, and host wall time until the GPU finished.
   */
  async timeGpu(body: () => void | Promise<void>): Promise<GpuTiming> {
    await this.synchronize();
    this.timer = this.features.has('timestamp-query') ? new PassTimer(this.device) : undefined;
    const started = performance.now();
    try {
      await body();
      this.flush();
      await this.whileAlive(this.device.queue.onSubmittedWorkDone());
    } finally {
      this.flush();
    }
    const wallMs = performance.now() - started;
    const timer = this.timer;
    this.timer = undefined;
    return { gpuMs: timer ? await timer.read() : undefined, wallMs };
  }

  memoryStats(): WebGpuMemoryStats {
    return { liveBytes: this.held, liveBufferBytes: this.heldBuffers, pool: this.pool.stats() };
  }

  /** Destroys idle pooled buffers (all of them by default). */
  trimPool(keepBytes = 0): void {
    this.pool.trim(keepBytes);
    this.stagingPool.trim(0);
  }

  get isLost(): boolean {
    return this.lost !== undefined;
  }

  // ---- internals ----

  private checkSize(dtype: DType, length: number): number {
    this.assertUsable();
    const bytes = length * bytesPerElement(dtype);
    if (bytes > this.maxBufferBytes) {
      throw new OutOfMemoryError(
        `webgpu: a ${dtype} tensor of ${length} elements needs ${formatBytes(bytes)}, more than one buffer on this device may hold ` +
          `(${formatBytes(this.maxBufferBytes)}, maxStorageBufferBindingSize); split it along an axis into smaller tensors`,
        { bytes, limit: this.maxBufferBytes, dtype, length },
      );
    }
    return bytes;
  }

  private track(buffer: GPUBuffer, bytes: number): WebGpuStorage {
    this.live.add(buffer);
    this.held += bytes;
    this.heldBuffers += buffer.size;
    return new WebGpuStorage(buffer, bytes);
  }

  private bufferOf(b: Tensor | WebGpuStorage, key: string): GPUBuffer {
    if (b instanceof WebGpuStorage) return b.buffer;
    if (b.backend !== this) {
      throw new BackendMismatchError(`${key}: a tensor on backend "${b.backend.name}" was passed to the webgpu backend; move it with toBackend()`);
    }
    return (b.storage as WebGpuStorage).buffer;
  }

  private commandEncoderOutsidePass(): GPUCommandEncoder {
    this.assertUsable();
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      const timestampWrites = this.timer?.nextPass();
      this.pass = this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    }
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError('webgpu backend');
    if (this.lost) throw this.lost;
  }

  /** Resolves with `work`, or rejects with DeviceLostError as soon as the device is lost (never hangs on a dead device). */
  private async whileAlive<T>(work: Promise<T>): Promise<T> {
    this.assertUsable();
    work.catch(() => undefined); // its rejection is reported through the race below
    let reject: (error: unknown) => void = () => undefined;
    const lost = new Promise<never>((_, r) => {
      reject = r;
    });
    this.lostWaiters.add(reject);
    try {
      return await Promise.race([work, lost]);
    } catch (error) {
      // A map aborted by a dying device may reject before `device.lost` settles: give it a moment.
      if (!this.lost && !this.disposed) await Promise.race([this.device.lost, new Promise((resolve) => setTimeout(resolve, 100))]);
      throw this.lost ?? error;
    } finally {
      this.lostWaiters.delete(reject);
    }
  }

  private throwReported(status: Uint32Array): void {
    const captured = this.captured;
    this.captured = undefined;
    if (captured) throw captured;
    const reported = this.status.check(status);
    if (reported) throw reported;
  }

  private watchCompilation(program: Program): void {
    program.module
      .getCompilationInfo?.()
      .then((info) => {
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length > 0) {
          this.captured ??= new WebGpuValidationError(
            `webgpu: program ${program.key} does not compile: ${errors.map((m) => `line ${m.lineNum}: ${m.message}`).join('; ')}`,
            { key: program.key },
          );
        }
      })
      .catch(() => undefined);
  }
}

function padTo4(data: HostArray): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${bytes} bytes`;
}
