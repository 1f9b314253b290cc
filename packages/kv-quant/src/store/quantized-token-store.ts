import {
  type Backend,
  DisposedError,
  type HeadView,
  IndexOutOfRangeError,
  InvalidConfigError,
  reshape,
  ShapeMismatchError,
  slice,
  type StoreSpec,
  type Tensor,
  tensor,
  type TokenCodes,
  type TokenStore,
  validateKeepIndices,
  zeros,
} from '@kvkit/tensor-core';
import { UniformTokenCodec } from '../codecs/uniform-codec.js';
import { addParts, disposeRecord, type RecordTensors, RecordStore } from '../storage/record-store.js';
import type { QuantizedStoreSettings } from './quantized-store.js';

/** Record fields are the key codec's and the value codec's, prefixed so they share one row. */
const KEY = 'key.';
const VALUE = 'value.';

interface HeadRows {
  records: RecordStore;
  /** Host positions; its length is the records' capacity. */
  positions: Int32Array;
}

/**
 * Each KV head owns a `RecordStore` of rows — a token's packed key codes, value codes and their
 * per-group scales and zero points — plus host positions. Tokens enter quantized (`append`,
 * `appendHead`, `write` all encode), eviction keeps whole rows (`retain` gathers the kept rows to the
 * front and shrinks the buffers when more than half would stay empty). `view` hands out the codes
 * themselves (`HeadView.codes`, views of the buffers, no copy) for kernels that read them in place,
 * and dequantizes to f32 only when `keys`/`values` are read; `read` dequantizes. `memory()` reports
 * codes, scales, zeros, positions and unused capacity.
 */
export class QuantizedTokenStore implements TokenStore {
  readonly kvHeads: number;
  readonly headDim: number;
  private readonly backend: Backend;
  private readonly keyCodec: UniformTokenCodec;
  private readonly valueCodec: UniformTokenCodec;
  private readonly heads: HeadRows[] = [];
  private disposed = false;

  constructor(
    spec: StoreSpec,
    private readonly settings: QuantizedStoreSettings,
  ) {
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.backend = spec.backend;
    const codec = (bits: number) =>
      new UniformTokenCodec(spec.headDim, { bits, groupSize: settings.groupSize, symmetric: false, paramDType: settings.paramDType }, `quantizedStore (layer ${spec.layerIndex})`);
    this.keyCodec = codec(settings.keyBits);
    this.valueCodec = codec(settings.valueBits);
    for (let h = 0; h < this.kvHeads; h++) this.heads.push(this.allocate(settings.minCapacity));
  }

  /** e.g. "keys: uniform 4-bit asymmetric, per token in groups of 32 channels; values: …". */
  get label(): string {
    return `keys: ${this.keyCodec.label}; values: ${this.valueCodec.label}`;
  }

  count(head: number): number {
    return this.head(head).records.count;
  }

  positions(head: number): Int32Array {
    const rows = this.head(head);
    return rows.positions.subarray(0, rows.records.count);
  }

  /** Allocated token slots of a head. */
  capacity(head: number): number {
    return this.head(head).records.capacity;
  }

  append(keys: Tensor, values: Tensor, positions: Int32Array): void {
    this.assertAlive();
    if (!(positions instanceof Int32Array)) throw new InvalidConfigError('quantized store append: positions must be an Int32Array');
    const n = positions.length;
    for (const [name, t] of [
      ['keys', keys],
      ['values', values],
    ] as const) {
      if (t.rank !== 3 || t.shape[0] !== this.kvHeads || t.shape[1] !== n || t.shape[2] !== this.headDim) {
        throw new ShapeMismatchError(`quantized store append: ${name} must be [${this.kvHeads}, ${n}, ${this.headDim}], got [${t.shape.join(', ')}]`);
      }
    }
    if (n === 0) return;
    // Encode every head first (bad dtypes throw here), then write: a failure leaves the store as it was.
    const record = this.encode(keys, values);
    try {
      for (const rows of this.heads) this.reserve(rows, n);
      for (let h = 0; h < this.kvHeads; h++) {
        const rows = this.heads[h];
        const at = rows.records.count;
        const headRecord = headSlice(record, h, n);
        try {
          rows.records.append(headRecord, n);
        } finally {
          disposeRecord(headRecord);
        }
        rows.positions.set(positions, at);
      }
    } finally {
      disposeRecord(record);
    }
  }

  appendHead(head: number, keys: Float32Array, values: Float32Array, positions: Int32Array): void {
    this.assertAlive();
    const rows = this.head(head);
    const n = positions.length;
    const d = this.headDim;
    if (keys.length !== n * d || values.length !== n * d) {
      throw new ShapeMismatchError(`quantized store appendHead: keys and values must hold ${n} × ${d} numbers, got ${keys.length} and ${values.length}`);
    }
    if (n === 0) return;
    const record = this.encodeHost(keys, values, n);
    try {
      const at = rows.records.count;
      this.reserve(rows, n);
      rows.records.append(record, n);
      rows.positions.set(positions, at);
    } finally {
      disposeRecord(record);
    }
  }

  retain(head: number, keep: Int32Array): void {
    this.assertAlive();
    const rows = this.head(head);
    const count = rows.records.count;
    validateKeepIndices(keep, count, `quantized store retain (head ${head})`);
    if (keep.length === count) return;
    const kept = keep.length;
    const { minCapacity } = this.settings;
    const capacity = rows.records.capacity;
    const shrink = capacity - kept > Math.max(minCapacity, kept);
    const target = shrink ? kept + Math.max(minCapacity, Math.ceil(kept / 8)) : capacity;
    const index = tensor(keep, [kept], { dtype: 'i32', backend: this.backend });
    try {
      rows.records.keepRows(index, target);
    } finally {
      index.dispose();
    }
    const positions = new Int32Array(target);
    for (let i = 0; i < kept; i++) positions[i] = rows.positions[keep[i]];
    rows.positions = positions;
  }

  write(head: number, index: number, key: Float32Array, value: Float32Array): void {
    this.assertAlive();
    const rows = this.head(head);
    if (!Number.isInteger(index) || index < 0 || index >= rows.records.count) {
      throw new IndexOutOfRangeError(`quantized store write: token ${index} is outside [0, ${rows.records.count}) of head ${head}`, {
        index,
        count: rows.records.count,
      });
    }
    if (key.length !== this.headDim || value.length !== this.headDim) {
      throw new ShapeMismatchError(`quantized store write: key and value must have ${this.headDim} numbers, got ${key.length} and ${value.length}`);
    }
    // The new vector gets its own scales and zero points: a write re-quantizes exactly one row.
    const record = this.encodeHost(key, value, 1);
    try {
      rows.records.writeRow(index, record);
    } finally {
      disposeRecord(record);
    }
  }

  read(head: number): { keys: Float32Array; values: Float32Array } {
    const { keys, values } = this.decode(head);
    try {
      return { keys: Float32Array.from(keys.readFloat32Sync()), values: Float32Array.from(values.readFloat32Sync()) };
    } finally {
      keys.dispose();
      values.dispose();
    }
  }

  view(head: number): HeadView {
    const rows = this.head(head);
    const n = rows.records.count;
    const d = this.headDim;
    // Views of rows [0, n) of the store's own buffers: the codes as they are stored, no copy.
    const record = rows.records.view(0, n);
    const { groupSize } = this.settings;
    const codes = {
      keys: tokenCodes(record, KEY, this.settings.keyBits, groupSize),
      values: tokenCodes(record, VALUE, this.settings.valueBits, groupSize),
    };
    let decoded: { keys: Tensor; values: Tensor } | undefined;
    // Dequantized on first read of keys or values (both at once: they are read together).
    const dequantized = (): { keys: Tensor; values: Tensor } => {
      if (!decoded) {
        const f32 = this.decodeRecord(record, n);
        decoded = { keys: asHeadRows(f32.keys, n, d), values: asHeadRows(f32.values, n, d) };
      }
      return decoded;
    };
    return {
      get keys() {
        return dequantized().keys;
      },
      get values() {
        return dequantized().values;
      },
      codes,
      positions: rows.positions.slice(0, n),
      dispose: () => {
        disposeRecord(record);
        decoded?.keys.dispose();
        decoded?.values.dispose();
      },
    };
  }

  memory(): Record<string, number> {
    const out: Record<string, number> = { codes: 0, scales: 0, zeros: 0, positions: 0, reserved: 0 };
    for (const rows of this.heads) {
      const { count, capacity } = rows.records;
      addParts(out, rows.records.memory());
      out.positions += 4 * count;
      out.reserved += 4 * (capacity - count);
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const rows of this.heads) rows.records.dispose();
  }

  private head(head: number): HeadRows {
    this.assertAlive();
    if (!Number.isInteger(head) || head < 0 || head >= this.kvHeads) {
      throw new IndexOutOfRangeError(`quantized store: head ${head} is outside [0, ${this.kvHeads})`, { index: head, count: this.kvHeads });
    }
    return this.heads[head];
  }

  private allocate(capacity: number): HeadRows {
    const fields = [
      ...this.keyCodec.fields.map((f) => ({ ...f, name: KEY + f.name })),
      ...this.valueCodec.fields.map((f) => ({ ...f, name: VALUE + f.name })),
    ];
    return { records: new RecordStore(this.backend, [], fields, capacity), positions: new Int32Array(capacity) };
  }

  /** Room for `extra` more tokens (the records grow by doubling; positions follow their capacity). */
  private reserve(rows: HeadRows, extra: number): void {
    rows.records.reserve(extra);
    if (rows.positions.length !== rows.records.capacity) {
      const positions = new Int32Array(rows.records.capacity);
      positions.set(rows.positions.subarray(0, rows.records.count));
      rows.positions = positions;
    }
  }

  /** Both codecs over [..., d] tensors: one record of prefixed fields. */
  private encode(keys: Tensor, values: Tensor): RecordTensors {
    const k = this.keyCodec.encode(keys);
    let v: RecordTensors;
    try {
      v = this.valueCodec.encode(values);
    } catch (error) {
      disposeRecord(k);
      throw error;
    }
    return { ...prefixed(k, KEY), ...prefixed(v, VALUE) };
  }

  private encodeHost(keys: Float32Array, values: Float32Array, n: number): RecordTensors {
    const k = tensor(keys, [n, this.headDim], { dtype: 'f32', backend: this.backend });
    const v = tensor(values, [n, this.headDim], { dtype: 'f32', backend: this.backend });
    try {
      return this.encode(k, v);
    } finally {
      k.dispose();
      v.dispose();
    }
  }

  /** f32 [count, d] keys and values of a head. */
  private decode(head: number): { keys: Tensor; values: Tensor } {
    const rows = this.head(head);
    const n = rows.records.count;
    const record = rows.records.view(0, n);
    try {
      return this.decodeRecord(record, n);
    } finally {
      disposeRecord(record);
    }
  }

  /** f32 [n, d] keys and values of a record of n rows. */
  private decodeRecord(record: RecordTensors, n: number): { keys: Tensor; values: Tensor } {
    if (n === 0) {
      const empty = () => zeros([0, this.headDim], { dtype: 'f32', backend: this.backend });
      return { keys: empty(), values: empty() };
    }
    const keys = this.keyCodec.decode(unprefixed(record, KEY));
    try {
      return { keys, values: this.valueCodec.decode(unprefixed(record, VALUE)) };
    } catch (error) {
      keys.dispose();
      throw error;
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('quantized token store');
  }
}

/** The key or value half of a record as tensor-core's `TokenCodes` (the record's own tensors). */
function tokenCodes(record: RecordTensors, prefix: string, bits: number, groupSize: number): TokenCodes {
  return { bits, groupSize, codes: record[prefix + 'codes'], scales: record[prefix + 'scale'], zeros: record[prefix + 'zero'] };
}

/** [n, d] → [1, n, d] (the reshape may return its input or a new view; the input is released once). */
function asHeadRows(t: Tensor, n: number, d: number): Tensor {
  const shaped = reshape(t, [1, n, d]);
  if (shaped !== t) t.dispose();
  return shaped;
}

function prefixed(record: RecordTensors, prefix: string): RecordTensors {
  return Object.fromEntries(Object.entries(record).map(([name, t]) => [prefix + name, t]));
}

function unprefixed(record: RecordTensors, prefix: string): RecordTensors {
  return Object.fromEntries(Object.entries(record).filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t]));
}

/** Head `h`'s rows of a [kvHeads, n, ...inner] record, as [n, ...inner] views. */
function headSlice(record: RecordTensors, h: number, n: number): RecordTensors {
  const out: RecordTensors = {};
  try {
    for (const [name, t] of Object.entries(record)) {
      const inner = t.shape.slice(2);
      const part = slice(t, [h, 0, ...inner.map(() => 0)], [h + 1, n, ...inner]);
      out[name] = reshape(part, [n, ...inner]);
      if (out[name] !== part) part.dispose();
    }
  } catch (error) {
    disposeRecord(out);
    throw error;
  }
  return out;
}

