import { type MemoryReport, memoryReport } from '@kvkit/tensor-core';

/** Sums resident bytes by part across a layer's stores. */
export class MemoryTally {
  private readonly parts: Record<string, number> = {};

  add(name: string, bytes: number): this {
    this.parts[name] = (this.parts[name] ?? 0) + bytes;
    return this;
  }

  /** A store's own parts (latents, codes, scales, zeros, reserved …). */
  addParts(parts: Record<string, number>): this {
    for (const [name, bytes] of Object.entries(parts)) this.add(name, bytes);
    return this;
  }

  /** A buffer's used bytes under `name`, its empty capacity under 'reserved'. */
  addBuffer(name: string, bytes: { used: number; reserved: number }): this {
    return this.add(name, bytes.used).add('reserved', bytes.reserved);
  }

  report(tokens: number): MemoryReport {
    return memoryReport(this.parts, tokens);
  }
}
