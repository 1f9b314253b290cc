import { SoftmaxState } from './online-softmax.js';
import { TileScratch } from './tile-loop.js';
import { createQueryBlock, DenseRowSource, type QueryBlock } from './tile-source.js';

/** Buffers of a dense kernel call: a query block, two online-softmax states, tile scratch, a row source. */
export class DenseWorkspace {
  readonly block: QueryBlock;
  readonly state: SoftmaxState;
  readonly partial: SoftmaxState;
  readonly scratch: TileScratch;
  readonly source: DenseRowSource;

  constructor(rows: number, d: number, dv: number, tile: number) {
    this.block = createQueryBlock(rows, d);
    this.state = new SoftmaxState(rows, dv);
    this.partial = new SoftmaxState(rows, dv);
    this.scratch = new TileScratch(rows, tile);
    this.source = new DenseRowSource(d, dv, tile);
  }
}

const cache = new Map<string, DenseWorkspace>();

/**
 * A workspace for `rows` query rows, reused across calls of the same shape: decode calls are short,
 * and allocating (and collecting) their buffers each time cost as much as the attention itself for
 * a small cache. Kernels are synchronous and never re-entered, so one workspace per shape suffices.
 */
export function denseWorkspace(rows: number, d: number, dv: number, tile: number): DenseWorkspace {
  const key = `${rows}:${d}:${dv}:${tile}`;
  let ws = cache.get(key);
  if (!ws) {
    if (cache.size >= 32) cache.delete(cache.keys().next().value as string);
    ws = new DenseWorkspace(rows, d, dv, tile);
    cache.set(key, ws);
  }
  return ws;
}
