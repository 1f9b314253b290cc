import { CorruptModelFileError, InvalidConfigError } from '@kvkit/tensor-core';

/**
 * Where a Hugging Face model directory lives: a directory path (Node), files already in memory
 * (browser uploads, tests), or a base URL that serves the directory's files (browser or Node).
 */
export type ModelSource =
  | string
  | { files: Record<string, ArrayBuffer | Uint8Array> }
  | { baseUrl: string; fetch?: typeof fetch };

/** Read access to the files of one model directory. */
export interface ModelFiles {
  /** Where the files come from, for error messages. */
  readonly description: string;
  /** The file's bytes, or undefined when the directory has no such file. */
  read(name: string): Promise<Uint8Array | undefined>;
}

/** Opens a model source (an already open `ModelFiles` is returned as is). Node's file system is imported only for directory paths. */
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

/** Parses UTF-8 JSON bytes, naming the file when they are not valid JSON. */
export function parseJson(bytes: Uint8Array, name: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CorruptModelFileError(name, 'is not valid UTF-8 text');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CorruptModelFileError(name, `is not valid JSON (${(error as Error).message})`);
  }
}

class DirectoryFiles implements ModelFiles {
  readonly description: string;
  constructor(private readonly directory: string) {
    this.description = `directory ${directory}`;
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    try {
      return new Uint8Array(await readFile(join(this.directory, name)));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT') return undefined;
      throw new CorruptModelFileError(name, `could not be read from ${this.description}: ${(error as Error).message}`);
    }
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
    let response: Response;
    try {
      response = await this.fetchFn(url);
    } catch (error) {
      throw new CorruptModelFileError(name, `could not be fetched from ${url}: ${(error as Error).message}`);
    }
    if (response.status === 404) return undefined;
    if (!response.ok) throw new CorruptModelFileError(name, `fetching ${url} failed with HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}
