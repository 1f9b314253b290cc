import { CorruptModelFileError, type SafetensorsEntry } from '@kvkit/tensor-core';
import type { MatrixStack } from './checkpoint-tensors.js';

/**
 * Gathers the bytes of each MatrixStack (a mixture's experts) as its matrices arrive, in the
 * checkpoint's dtype, across shards; once every row is there it hands back the whole stack as one
 * [count · rows, cols] matrix to load like any other.
 */
export class StackFiller {
  private readonly pending = new Map<MatrixStack, { bytes: Uint8Array; dtype: string; filledRows: number }>();

  /** Places `data` (`rows` rows of `entry`'s matrix) at row `row` of `stack`; the stack's bytes and entry once it is complete. */
  place(stack: MatrixStack, row: number, rows: number, data: Uint8Array, entry: SafetensorsEntry, fileName: string): { bytes: Uint8Array; entry: SafetensorsEntry } | undefined {
    const [count, stackRows, cols] = stack.shape;
    const totalRows = count * stackRows;
    const rowBytes = data.length / rows;
    const stackEntry = (bytes: Uint8Array, dtype: string): SafetensorsEntry => ({ name: stack.name, dtype, shape: [totalRows, cols], begin: 0, end: bytes.length });
    let state = this.pending.get(stack);
    // A stack stored whole (Granite's [experts, rows, cols]) is already in place: no copy.
    if (!state && rows === totalRows) return { bytes: data, entry: stackEntry(data, entry.dtype) };
    if (!state) {
      state = { bytes: new Uint8Array(totalRows * rowBytes), dtype: entry.dtype, filledRows: 0 };
      this.pending.set(stack, state);
    }
    // One tensor of the stack in another dtype would be read with the wrong width.
    if (entry.dtype !== state.dtype) {
      throw new CorruptModelFileError(fileName, `tensor "${entry.name}" is ${entry.dtype} but the other matrices of ${stack.name} are ${state.dtype}`, {
        tensor: entry.name,
      });
    }
    state.bytes.set(data, row * rowBytes);
    state.filledRows += rows;
    if (state.filledRows < totalRows) return undefined;
    this.pending.delete(stack);
    return { bytes: state.bytes, entry: stackEntry(state.bytes, state.dtype) };
  }
}
