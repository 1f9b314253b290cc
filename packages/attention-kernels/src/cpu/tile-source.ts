import { type SimdArena, stageFloat32 } from '@kvkit/tensor-core';
import { rowAccumulate, rowScores } from './dense-row-loops.js';
import type { HostFloats } from './host-data.js';
import type { KiviRowKernels } from './kivi-source.js';

/** The query rows that read one KV head: (query head in the group) × (query), pre-scaled. */
export interface QueryBlock {
  rows: number;
  d: number;
  /** rows × d, already multiplied by the score scale. */
  q: Float64Array;
  /** Absolute position of each row's query. */
  pos: Int32Array;
  /** Query head of each row (where its statistics go). */
  head: Int32Array;
  /** Index of each row's query within its request. */
  query: Int32Array;
  /** Whether each row's query contributes to the statistics (the observation window). */
  contributes: Uint8Array;
  /** Weight of each contributing row in the per-key sums. */
  statWeight: Float64Array;
  /** Index of the row among the returned probability rows, or −1. */
  probRow: Int32Array;
}

export function createQueryBlock(rows: number, d: number): QueryBlock {
  return {
    rows,
    d,
    q: new Float64Array(rows * d),
    pos: new Int32Array(rows),
    head: new Int32Array(rows),
    query: new Int32Array(rows),
    contributes: new Uint8Array(rows),
    statWeight: new Float64Array(rows),
    probRow: new Int32Array(rows),
  };
}

/**
 * Keys and values of one KV head over a token range, read a tile at a time. Implementations decode
 * their storage (f16 rows, packed low-bit codes ...) inside `load`/`scores`/`accumulate`, so no full
 * dequantized copy is ever made. Token indices are relative to the source.
 */
export interface TileSource {
  readonly dv: number;
  /** Absolute positions: token t's is `positions[positionBase + t]`. */
  readonly positions: Int32Array;
  readonly positionBase: number;
  /** Optional log multiplicity added to token t's score: `logWeights[logWeightBase + t]`. */
  readonly logWeights: Float32Array | undefined;
  readonly logWeightBase: number;
  /** Makes tokens [a, b) ready for `scores` and `accumulate`. */
  load(a: number, b: number): void;
  /** out[r·stride + t] = q_r · k_(a+t) for every row r with active[r] ≠ 0, t < count. */
  scores(block: QueryBlock, active: Uint8Array, count: number, out: Float64Array, stride: number): void;
  /** acc[r·dv + c] += Σ_t p[r·stride + t] · v_(a+t)[c] for every active row. */
  accumulate(block: QueryBlock, active: Uint8Array, count: number, p: Float64Array, stride: number, acc: Float64Array): void;
}

/**
 * Where row-attention.ts stages a tile: byte addresses in the memory of `arena` (whose kernels include
 * kivi-rows.wat's) for its key rows and value rows, scratch bytes a source may use on the way, and
 * views of the arena's bytes from `base` (the value at address a is f32[(a − base) / 4]).
 */
export interface TileStaging {
  arena: SimdArena<KiviRowKernels>;
  base: number;
  keys: number;
  values: number;
  /** false: a statistics-only pass, which stages keys alone. */
  withValues: boolean;
  scratch: number;
  f32: Float32Array;
  u32: Uint32Array;
}

/**
 * A source whose tiles end up as f32 or f16 rows (keys [count, d], values [count, dv]) — read in
 * place or decoded into tile-sized f32 scratch by `load` — scored and accumulated by the shared
 * dense loops (which convert f16 rows themselves).
 */
export abstract class RowTileSource implements TileSource {
  positions: Int32Array = new Int32Array(0);
  positionBase = 0;
  logWeights: Float32Array | undefined = undefined;
  logWeightBase = 0;
  /** Where `load` left the tile: token t's key at kTile[kOff + t·d], its value at vTile[vOff + t·dv] (f32, or f16 bit patterns). */
  protected kTile: HostFloats = new Float32Array(0);
  protected vTile: HostFloats = new Float32Array(0);
  protected kOff = 0;
  protected vOff = 0;
  protected readonly kScratch: Float32Array;
  protected readonly vScratch: Float32Array;

  constructor(
    readonly d: number,
    readonly dv: number,
    tileCapacity: number,
  ) {
    this.kScratch = new Float32Array(tileCapacity * d);
    this.vScratch = new Float32Array(tileCapacity * dv);
  }

  abstract load(a: number, b: number): void;

  /**
   * Writes the keys and values of tokens [a, a + count) as f32 rows where row-attention.ts wants
   * them (`staging`): `load`, then the rows copied in (f16 converted in SIMD). Sources whose tiles
   * are not rows in storage (KIVI's codes) write their own.
   */
  stageRows(staging: TileStaging, a: number, count: number): void {
    this.load(a, a + count);
    stageFloat32(staging.arena, this.kTile, this.kOff, count * this.d, staging.keys);
    if (staging.withValues) stageFloat32(staging.arena, this.vTile, this.vOff, count * this.dv, staging.values);
  }

  /** Bytes of `staging.scratch` that `stageRows` needs for a tile of `tile` tokens. */
  stagingScratchBytes(_tile: number): number {
    return 0;
  }

  scores(block: QueryBlock, active: Uint8Array, count: number, out: Float64Array, stride: number): void {
    rowScores(block.q, block.rows, this.d, active, this.kTile, this.kOff, count, out, stride);
  }

  accumulate(block: QueryBlock, active: Uint8Array, count: number, p: Float64Array, stride: number, acc: Float64Array): void {
    rowAccumulate(p, stride, block.rows, active, this.vTile, this.vOff, this.dv, count, acc);
  }
}

/**
 * Dense K/V rows (f32 or f16, read in place). `bind` points
 * the source at a run of consecutive rows: a KV head of a dense tensor, a page of a paged pool, ...
 */
export class DenseRowSource extends RowTileSource {
  private keys!: HostFloats;
  private values!: HostFloats;
  private keyBase = 0;
  private valueBase = 0;

  /**
   * Token t of the source is the row starting at element `keyBase + t·d` of `keys` (and likewise for
   * values); its position is `positions[positionBase + t]`, its log weight `logWeights[positionBase + t]`.
   */
  bind(keys: HostFloats, keyBase: number, values: HostFloats, valueBase: number, positions: Int32Array, positionBase: number, logWeights?: Float32Array, logWeightBase = positionBase): this {
    this.logWeights = logWeights;
    this.logWeightBase = logWeightBase;
    this.keys = keys;
    this.values = values;
    this.keyBase = keyBase;
    this.valueBase = valueBase;
    this.positions = positions;
    this.positionBase = positionBase;
    return this;
  }

  load(a: number, _b: number): void {
    const { d, dv } = this;
    this.kTile = this.keys;
    this.kOff = this.keyBase + a * d;
    if (dv > 0) {
      // dv 0: statistics only
      this.vTile = this.values;
      this.vOff = this.valueBase + a * dv;
    }
  }
}
