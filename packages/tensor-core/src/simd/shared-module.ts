// A module's binary with its imported memory declared shared, so it can be instantiated on a shared
// WebAssembly.Memory (one memory seen by every worker thread). The .wat sources import a plain
// memory (what a page without cross-origin isolation can have); the threads path rewrites that one
// import instead of keeping a second copy of every module.

/** Largest memory a shared import admits, in 64 KiB pages (4 GiB, wasm32's limit). */
export const SHARED_MAX_PAGES = 65536;

const IMPORT_SECTION = 2;
const MEMORY_KIND = 2;

/** The same module with its memory import's limits replaced by { shared, min as before, max 4 GiB }. */
export function withSharedMemoryImport(bytes: Uint8Array): Uint8Array {
  const reader = new Reader(bytes, 8); // after the magic number and version
  while (reader.offset < bytes.length) {
    const sectionStart = reader.offset;
    const id = bytes[reader.offset++];
    const size = reader.u32();
    const contentStart = reader.offset;
    if (id !== IMPORT_SECTION) {
      reader.offset = contentStart + size;
      continue;
    }
    const content = rewriteImports(bytes.subarray(contentStart, contentStart + size));
    return concat([bytes.subarray(0, sectionStart), Uint8Array.of(IMPORT_SECTION), leb(content.length), content, bytes.subarray(contentStart + size)]);
  }
  throw new Error('withSharedMemoryImport: the module imports no memory');
}

function rewriteImports(section: Uint8Array): Uint8Array {
  const reader = new Reader(section, 0);
  const count = reader.u32();
  for (let e = 0; e < count; e++) {
    reader.skipName();
    reader.skipName();
    const kind = section[reader.offset++];
    if (kind === MEMORY_KIND) {
      const limitsStart = reader.offset;
      const flags = section[reader.offset++];
      const min = reader.u32();
      if (flags & 1) reader.u32();
      const limits = concat([Uint8Array.of(0x03), leb(min), leb(SHARED_MAX_PAGES)]);
      return concat([section.subarray(0, limitsStart), limits, section.subarray(reader.offset)]);
    }
    if (kind === 0) reader.u32();
    else if (kind === 1) {
      reader.offset++; // reference type
      const flags = section[reader.offset++];
      reader.u32();
      if (flags & 1) reader.u32();
    } else if (kind === 3) reader.offset += 2; // value type, mutability
    else throw new Error(`withSharedMemoryImport: unknown import kind ${kind}`);
  }
  throw new Error('withSharedMemoryImport: the module imports no memory');
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public offset: number,
  ) {}

  /** An unsigned LEB128 value. */
  u32(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = this.bytes[this.offset++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  }

  skipName(): void {
    const length = this.u32();
    this.offset += length;
  }
}

function leb(value: number): Uint8Array {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Uint8Array.from(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
