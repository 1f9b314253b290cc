import { type Backend, InvalidConfigError, type Tensor, f16BitsToNumber, numberToF16Bits, packCodes, requireSynchronousBackend, tensor, unpackCodes, wordsPerRow } from '@kvkit/tensor-core';
import type { LatentStore } from './latent-store.js';

/**
 * Latents quantized per token: each row of `width` numbers is cut into groups of `groupSize`, each
 * group stored as `bits`-bit codes with an f16 scale and minimum (asymmetric round-to-nearest),
 * x ≈ min + code·scale. Codes use tensor-core's packed layout (no code straddles two u32 words;
 * groups start on a fresh word). Quantization runs on the host, so the latents it is handed must be
 * readable synchronously (the CPU backend); a device quantizer can replace this store behind the
 * same `LatentStore` interface.
 */
export class QuantizedLatentStore implements LatentStore {
  private codes: Uint32Array;
  private scales: Uint16Array;
  private minimums: Uint16Array;
  private used = 0;
  private readonly rowWords: number;
  private readonly groups: number;
  private readonly levels: number;

  constructor(
    private readonly backend: Backend,
    readonly width: number,
    readonly bits: number,
    readonly groupSize: number,
    initialCapacity: number,
  ) {
    // The latents are quantized on the host as they arrive.
    requireSynchronousBackend(backend, `a ${bits}-bit latent store`, 'quantizes latents on the host');
    this.rowWords = wordsPerRow(width, bits, groupSize);
    this.groups = Math.ceil(width / groupSize);
    this.levels = 2 ** bits - 1;
    const capacity = Math.max(1, initialCapacity);
    this.codes = new Uint32Array(capacity * this.rowWords);
    this.scales = new Uint16Array(capacity * this.groups);
    this.minimums = new Uint16Array(capacity * this.groups);
  }

  get length(): number {
    return this.used;
  }

  private get capacity(): number {
    return this.scales.length / this.groups;
  }

  reserve(total: number): void {
    if (total <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < total) capacity *= 2;
    const codes = new Uint32Array(capacity * this.rowWords);
    const scales = new Uint16Array(capacity * this.groups);
    const minimums = new Uint16Array(capacity * this.groups);
    codes.set(this.codes.subarray(0, this.used * this.rowWords));
    scales.set(this.scales.subarray(0, this.used * this.groups));
    minimums.set(this.minimums.subarray(0, this.used * this.groups));
    this.codes = codes;
    this.scales = scales;
    this.minimums = minimums;
  }

  append(latents: Tensor): void {
    const values = latents.readFloat32Sync();
    const n = values.length / this.width;
    this.reserve(this.used + n);
    const rowCodes = new Uint8Array(this.width);
    for (let t = 0; t < n; t++) {
      const row = t * this.width;
      const slot = this.used + t;
      for (let g = 0; g < this.groups; g++) {
        const start = g * this.groupSize;
        const end = Math.min(start + this.groupSize, this.width);
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = start; i < end; i++) {
          lo = Math.min(lo, values[row + i]);
          hi = Math.max(hi, values[row + i]);
        }
        // Codes are computed from the f16-rounded scale and minimum the decoder will see.
        const minBits = numberToF16Bits(lo);
        const scaleBits = numberToF16Bits((hi - lo) / this.levels);
        const min = f16BitsToNumber(minBits);
        const scale = f16BitsToNumber(scaleBits);
        if (!Number.isFinite(min) || !Number.isFinite(scale)) {
          // Nothing is visible yet (`used` moves last), so the store is unchanged.
          throw new InvalidConfigError(`quantized latents: token ${t} has values in [${lo}, ${hi}], outside the f16 range of scales and minimums`);
        }
        this.minimums[slot * this.groups + g] = minBits;
        this.scales[slot * this.groups + g] = scaleBits;
        for (let i = start; i < end; i++) {
          const code = scale > 0 ? Math.round((values[row + i] - min) / scale) : 0;
          rowCodes[i] = Math.min(this.levels, Math.max(0, code));
        }
      }
      packCodes(rowCodes, this.width, this.bits, this.groupSize, this.codes.subarray(slot * this.rowWords, (slot + 1) * this.rowWords));
    }
    this.used += n;
  }

  truncate(length: number): void {
    this.used = Math.min(this.used, length);
  }

  read(): Tensor {
    return this.decode(Int32Array.from({ length: this.used }, (_, i) => i));
  }

  gather(rows: Int32Array): Tensor {
    return this.decode(rows);
  }

  private decode(rows: Int32Array): Tensor {
    const out = new Float32Array(rows.length * this.width);
    const codes = new Uint8Array(this.width);
    rows.forEach((slot, t) => {
      unpackCodes(this.codes.subarray(slot * this.rowWords, (slot + 1) * this.rowWords), this.width, this.bits, this.groupSize, codes);
      for (let g = 0; g < this.groups; g++) {
        const min = f16BitsToNumber(this.minimums[slot * this.groups + g]);
        const scale = f16BitsToNumber(this.scales[slot * this.groups + g]);
        const end = Math.min((g + 1) * this.groupSize, this.width);
        for (let i = g * this.groupSize; i < end; i++) out[t * this.width + i] = min + codes[i] * scale;
      }
    });
    return tensor(out, [1, rows.length, this.width], { dtype: 'f32', backend: this.backend });
  }

  memory(): Record<string, number> {
    const slack = this.capacity - this.used;
    return {
      codes: 4 * this.rowWords * this.used,
      scales: 2 * this.groups * this.used,
      zeros: 2 * this.groups * this.used,
      reserved: slack * (4 * this.rowWords + 4 * this.groups),
    };
  }

  dispose(): void {
    this.codes = new Uint32Array(0);
    this.scales = new Uint16Array(0);
    this.minimums = new Uint16Array(0);
  }
}
