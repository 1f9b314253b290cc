import { CorruptModelFileError, InvalidConfigError } from '@kvkit/tensor-core';
import { parsePythonJson } from './python-json.js';

/**
 * Where a Hugging Face model directory lives: a directory path (Node), files already in memory
 * (browser uploads, tests), or a base URL that serves the directory's files (browser or Node).
 */
export type ModelSource =
  | string
  | { files: Record<string, ArrayBuffer | Uint8Array> }
  | { baseUrl: string; fetch?: typeof fetch };

/** Byte ranges of one file, read on demand (so a checkpoint larger than memory allows is never held whole). */
export interface RandomAccessFile {
  readonly size: number;
  /** Bytes [start, end) of the file. */
  read(start: number, end: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Read access to the files of one model directory. */
export interface ModelFiles {
  /** Where the files come from, for error messages. */
  readonly description: string;
  /** The file's bytes, or undefined when the directory has no such file. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** Range access to a file (sources that support it), or undefined when there is no such file. */
  open?(name: string): Promise<RandomAccessFile | undefined>;
}

/** Opens a model source (an already open `ModelFiles` is returned as is). Node's file system is used only for directory paths. */
export function openModelSource(source: ModelSource | ModelFiles): ModelFiles {
  if (isModelFiles(source)) return source;
  if (typeof source === 'string') return new DirectoryFiles(source);
  if (source && typeof source === 'object' && 'files' in source) return new InMemoryFiles(source.files);
  if (source && typeof source === 'object' && 'baseUrl' in source) return new UrlFiles(source.baseUrl, source.fetch);
  throw new InvalidConfigError(
    'model source must be a directory path, { files: { name: ArrayBuffer | Uint8Array } } or { baseUrl, fetch? }',
    { source: typeof source },
  );
}

function isModelFiles(source: unknown): source is ModelFiles {
  return typeof source === 'object' && source !== null && typeof (source as ModelFiles).read === 'function';
}

/** The file's bytes, or a CorruptModelFileError naming it when it is missing. */
export async function requireFile(files: ModelFiles, name: string): Promise<Uint8Array> {
  const bytes = await files.read(name);
  if (!bytes) throw new CorruptModelFileError(name, `missing from ${files.description}`);
  return bytes;
}

/** A JSON file parsed, or undefined when absent; malformed JSON names the file. */
export async function readJsonFile(files: ModelFiles, name: string): Promise<unknown> {
  const bytes = await files.read(name);
  if (!bytes) return undefined;
  return parseJson(bytes, name);
}

/** A UTF-8 text file, or undefined when absent; bytes that are not UTF-8 name the file. */
export async function readTextFile(files: ModelFiles, name: string): Promise<string | undefined> {
  const bytes = await files.read(name);
  return bytes && decodeText(bytes, name);
}

function decodeText(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CorruptModelFileError(name, 'is not valid UTF-8 text');
  }
}

/** Parses UTF-8 JSON bytes (with Python's NaN and Infinity: `parsePythonJson`), naming the file when they are not valid JSON. */
export function parseJson(bytes: Uint8Array, name: string): unknown {
  const text = decodeText(bytes, name);
  try {
    return parsePythonJson(text);
  } catch (error) {
    throw new CorruptModelFileError(name, `is not valid JSON (${(error as Error).message})`);
  }
}

type NodeFileSystem = { open: typeof import('node:fs/promises').open; join: typeof import('node:path').join };

/**
 * Node's file system, reached through process.getBuiltinModule rather than an import, which a
 * browser bundler would have to resolve (and fail on) although browsers never take this path.
 */
function nodeFileSystem(directory: string): NodeFileSystem {
  const node = (globalThis as { process?: Partial<Pick<NodeJS.Process, 'getBuiltinModule'>> }).process;
  if (typeof node?.getBuiltinModule !== 'function') {
    throw new InvalidConfigError(`model source "${directory}": a directory path needs Node's file system (Node ≥ 20.16); in a browser pass { baseUrl } or { files }`);
  }
  return { open: node.getBuiltinModule('node:fs/promises').open, join: node.getBuiltinModule('node:path').join };
}

class DirectoryFiles implements ModelFiles {
  readonly description: string;
  private readonly fs: NodeFileSystem;
  constructor(private readonly directory: string) {
    this.description = `directory ${directory}`;
    this.fs = nodeFileSystem(directory);
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const file = await this.open(name);
    if (!file) return undefined;
    try {
      return await file.read(0, file.size);
    } finally {
      await file.close();
    }
  }

  async open(name: string): Promise<RandomAccessFile | undefined> {
    const { open, join } = this.fs;
    const fail = (error: unknown): never => {
      throw new CorruptModelFileError(name, `could not be read from ${this.description}: ${(error as Error).message}`);
    };
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(join(this.directory, name), 'r');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      return fail(error);
    }
    const size = (await handle.stat()).size;
    return {
      size,
      // Chunked reads: one fs read returns at most 2 GiB.
      read: async (start, end) => {
        const out = new Uint8Array(end - start);
        try {
          for (let done = 0; done < out.length; ) {
            const { bytesRead } = await handle.read(out, done, Math.min(out.length - done, 1 << 30), start + done);
            if (bytesRead === 0) throw new Error(`the file ended at byte ${start + done} while ${end} bytes were expected`);
            done += bytesRead;
          }
        } catch (error) {
          fail(error);
        }
        return out;
      },
      close: () => handle.close(),
    };
  }
}

class InMemoryFiles implements ModelFiles {
  readonly description = 'the given files';
  constructor(private readonly files: Record<string, ArrayBuffer | Uint8Array>) {}

  async read(name: string): Promise<Uint8Array | undefined> {
    const data = this.files[name];
    if (data === undefined) return undefined;
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    throw new CorruptModelFileError(name, 'must be given as an ArrayBuffer or Uint8Array');
  }
}

class UrlFiles implements ModelFiles {
  readonly description: string;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(baseUrl: string, fetchFn?: typeof fetch) {
    this.base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    this.description = `URL ${this.base}`;
    const chosen = fetchFn ?? (typeof fetch === 'function' ? fetch : undefined);
    if (!chosen) throw new InvalidConfigError('a { baseUrl } model source needs fetch: pass { baseUrl, fetch }');
    this.fetchFn = chosen;
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const url = this.base + name.split('/').map(encodeURIComponent).join('/');
    // Called unbound: a browser's fetch throws "Illegal invocation" when `this` is not the window.
    const fetchFn = this.fetchFn;
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (error) {
      throw new CorruptModelFileError(name, `could not be fetched from ${url}: ${(error as Error).message}`);
    }
    if (response.status === 404) return undefined;
    if (!response.ok) throw new CorruptModelFileError(name, `fetching ${url} failed with HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}
