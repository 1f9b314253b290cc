import { type CacheMemoryReport, type CacheMethod, createRng, InvalidConfigError, IndexOutOfRangeError, type KVCache, type Tensor } from '@kvkit/tensor-core';
import type { LlamaModel } from './model.js';
import { checkSamplingOptions, Sampler, type SamplingOptions } from './sampler.js';
import { StopCriteria } from './stop-criteria.js';
import { type TokenLogprob, tokenLogprob } from './token-logprobs.js';

export interface TokenEvent {
  /** Which request (always 0 for `generate`). */
  request: number;
  /** Index of the token among the generated ones. */
  index: number;
  id: number;
  /** Newly settled text (may be empty while a character or a possible stop string is incomplete). */
  text: string;
  /** The token's log-probability and alternatives, with `logprobs`. */
  logprob?: TokenLogprob;
}

export interface GenerateOptions extends SamplingOptions {
  /** At most this many new tokens (default 128). */
  maxNewTokens?: number;
  /** Seed of the sampler (default 0); request i of a batch uses seed + i. */
  seed?: number;
  /** Stop strings and/or stop token ids, in addition to the model's EOS ids. */
  stop?: ReadonlyArray<string | number>;
  /** Do not stop on the EOS ids (stop tokens given in `stop` still stop). */
  ignoreEos?: boolean;
  /** Streaming: called once per generated token with the text it settled. */
  onToken?: (event: TokenEvent) => void;
  /** A compression method for a fresh cache per request, or (for `generate`) an existing cache to continue. */
  cache?: CacheMethod | KVCache;
  /** Tokens per prefill forward pass (default: the whole prompt in one pass). */
  prefillChunk?: number;
  /** Let generation run past the model's context (see `ForwardOptions.allowBeyondContext`; never past GPT-2's learned position embeddings). */
  allowBeyondContext?: boolean;
  /** Stops generation between tokens (stopReason 'aborted'). */
  signal?: AbortSignal;
  /** Return each generated token's log-probability under the model (`result.logprobs`, and on each token event). */
  logprobs?: boolean;
  /** With `logprobs`, also the this many most likely tokens at each step (0–20, default 0). */
  topLogprobs?: number;
}

export type StopReason = 'eos' | 'stop' | 'length' | 'context' | 'aborted';

export interface GenerateResult {
  /** The generated token ids (the stop token included when one ended generation). */
  ids: Int32Array;
  /** The generated text without special tokens, cut before a stop string. */
  text: string;
  promptTokens: number;
  generatedTokens: number;
  stopReason: StopReason;
  timings: { prefillMs: number; decodeMs: number };
  /** The cache's resident memory when generation ended. */
  memory: CacheMemoryReport;
  /** Each generated token's log-probability and alternatives, with `logprobs`. */
  logprobs?: TokenLogprob[];
}

/** Generates a continuation of `prompt` (text, tokenized with the model's tokenizer, or token ids). */
export async function generate(model: LlamaModel, prompt: string | Int32Array, options: GenerateOptions = {}): Promise<GenerateResult> {
  const [result] = await runRequests(model, [prompt], options);
  return result;
}

/**
 * Generates for several prompts together: each request is prefilled on its own, then all decode
 * together, one forward pass per step (one matmul per weight for the whole batch, attention per
 * request through its own cache). Finished requests leave the batch.
 */
export async function generateBatch(model: LlamaModel, prompts: ReadonlyArray<string | Int32Array>, options: GenerateOptions = {}): Promise<GenerateResult[]> {
  if (options.cache && isCache(options.cache) && prompts.length > 1) {
    throw new InvalidConfigError('generateBatch: options.cache must be a cache method (each request gets its own cache), not a cache instance');
  }
  return runRequests(model, prompts, options);
}

/** Whether generation may run past the context: asked for, and not ended by learned position embeddings (GPT-2's). */
const mayPassContext = (model: LlamaModel, options: GenerateOptions): boolean => Boolean(options.allowBeyondContext) && !model.config.learnedPositions;

function isCache(value: CacheMethod | KVCache): value is KVCache {
  return typeof value === 'object' && value !== null && 'layers' in value && 'memory' in value;
}

/** One request's state during generation. */
class Request {
  readonly generated: number[] = [];
  readonly logprobs: TokenLogprob[] = [];
  stopReason: StopReason | undefined;
  text = '';
  /** Characters of `text` already passed to onToken. */
  streamed = 0;
  prefillMs = 0;
  decodeMs = 0;

  constructor(
    readonly index: number,
    readonly prompt: Int32Array,
    readonly cache: KVCache,
    readonly ownsCache: boolean,
    readonly sampler: Sampler,
  ) {}
}

async function runRequests(model: LlamaModel, prompts: ReadonlyArray<string | Int32Array>, options: GenerateOptions): Promise<GenerateResult[]> {
  const maxNewTokens = options.maxNewTokens ?? 128;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidConfigError(`maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  const chunk = options.prefillChunk ?? Infinity;
  if (!(chunk === Infinity || (Number.isInteger(chunk) && chunk > 0))) throw new InvalidConfigError(`prefillChunk must be a positive integer, got ${chunk}`);
  if (prompts.length === 0) throw new InvalidConfigError('generateBatch: needs at least one prompt');
  checkSamplingOptions(options);
  const topLogprobs = options.topLogprobs ?? 0;
  if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > 20) throw new InvalidConfigError(`topLogprobs must be an integer in [0, 20], got ${topLogprobs}`);
  if (topLogprobs > 0 && !options.logprobs) throw new InvalidConfigError('topLogprobs needs logprobs: true');
  const eos = options.ignoreEos ? [] : model.hasTokenizer ? model.tokenizer.eosTokenIds : model.config.eosTokenIds;
  const stop = new StopCriteria(options.stop, eos);
  const seed = options.seed ?? 0;
  const { maxPositions } = model.config;
  const beyondContext = mayPassContext(model, options);

  // Tokenize and check every prompt before any cache exists.
  const promptIds = prompts.map((p, i) => {
    const ids = typeof p === 'string' ? model.tokenizer.encode(p) : p;
    if (!(ids instanceof Int32Array) || ids.length === 0) throw new InvalidConfigError(`prompt ${i} is empty: generation needs at least one prompt token`);
    return ids;
  });
  const existing = options.cache && isCache(options.cache) ? options.cache : undefined;
  promptIds.forEach((ids, i) => {
    const start = existing ? model.nextPosition(existing) : 0;
    if (start + ids.length > maxPositions && !beyondContext) {
      throw new IndexOutOfRangeError(
        `prompt ${i} has ${ids.length} tokens${start ? ` after ${start} already cached` : ''}, more than the model's context of ${maxPositions} tokens (max_position_embeddings)`,
        { promptTokens: ids.length, start, maxPositions },
      );
    }
  });

  const requests: Request[] = [];
  try {
    for (let i = 0; i < promptIds.length; i++) {
      const cache = existing ?? model.createCache(options.cache as CacheMethod | undefined);
      requests.push(new Request(i, promptIds[i], cache, !existing, new Sampler(options, createRng(seed + i))));
    }
    const rows = new Map<Request, Float32Array>();
    for (const r of requests) {
      const started = performance.now();
      let logits: Tensor | undefined;
      for (let s = 0; s < r.prompt.length; s += chunk) {
        logits?.dispose();
        logits = model.forward(r.prompt.subarray(s, Math.min(r.prompt.length, s + chunk)), r.cache, {
          logits: 'last',
          phase: 'prefill',
          allowBeyondContext: options.allowBeyondContext,
        });
      }
      rows.set(r, await readAndDispose(logits as Tensor));
      r.prefillMs = performance.now() - started;
    }

    const decodeStart = performance.now();
    let active = requests;
    while (active.length > 0) {
      for (const r of active) {
        accept(r, rows.get(r) as Float32Array, model, stop, maxNewTokens, options);
        if (r.stopReason) r.decodeMs = performance.now() - decodeStart;
      }
      active = active.filter((r) => !r.stopReason);
      if (active.length === 0) break;
      await yieldToEventLoop();
      const logits = model.forwardBatch(
        active.map((r) => ({ ids: Int32Array.of(r.generated[r.generated.length - 1]), cache: r.cache })),
        { logits: 'last', phase: 'decode', allowBeyondContext: options.allowBeyondContext },
      );
      const all = await readAndDispose(logits);
      const vocab = model.config.vocabSize;
      active.forEach((r, i) => rows.set(r, all.subarray(i * vocab, (i + 1) * vocab)));
    }
    return requests.map((r) => ({
      ids: Int32Array.from(r.generated),
      text: r.text,
      promptTokens: r.prompt.length,
      generatedTokens: r.generated.length,
      stopReason: r.stopReason as StopReason,
      timings: { prefillMs: r.prefillMs, decodeMs: r.decodeMs },
      memory: r.cache.memory(),
      ...(options.logprobs ? { logprobs: r.logprobs } : {}),
    }));
  } finally {
    for (const r of requests) if (r.ownsCache) r.cache.dispose();
  }
}

/**
 * Lets the event loop run between decode steps (timers, I/O, an abort signal, a page's input and
 * paint, other requests of a server): on the CPU backend a step's awaits resolve at once, so a
 * generation would otherwise hold the thread from its first token to its last. A task, not a
 * timer: setTimeout(0) is clamped to 4 ms in browsers once nested.
 */
function yieldToEventLoop(): Promise<void> {
  const { setImmediate, MessageChannel: Channel } = globalThis as unknown as {
    setImmediate?: (callback: () => void) => unknown;
    MessageChannel?: new () => { port1: { onmessage: (() => void) | null; close(): void }; port2: { postMessage(message: null): void } };
  };
  if (setImmediate) return new Promise((resolve) => void setImmediate(resolve));
  if (Channel) {
    return new Promise((resolve) => {
      const channel = new Channel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function readAndDispose(logits: Tensor): Promise<Float32Array> {
  try {
    return await logits.readFloat32();
  } finally {
    logits.dispose();
  }
}

/** Samples the request's next token from `row`, streams its text, and decides whether it stops. */
function accept(r: Request, row: Float32Array, model: LlamaModel, stop: StopCriteria, maxNewTokens: number, options: GenerateOptions): void {
  const id = r.sampler.sample(row, [r.prompt, r.generated]);
  r.generated.push(id);
  const logprob = options.logprobs ? tokenLogprob(row, id, options.topLogprobs ?? 0) : undefined;
  if (logprob) r.logprobs.push(logprob);
  let text = model.hasTokenizer ? model.tokenizer.decode(r.generated, { skipSpecialTokens: true }) : '';
  let reason: StopReason | undefined;
  const at = stop.findStopString(text);
  if (stop.isStopToken(id)) reason = 'eos';
  else if (at >= 0) {
    reason = 'stop';
    text = text.slice(0, at);
  } else if (r.generated.length >= maxNewTokens) reason = 'length';
  else if (model.nextPosition(r.cache) >= model.config.maxPositions && !mayPassContext(model, options)) reason = 'context';
  else if (options.signal?.aborted) reason = 'aborted';
  // While generating, hold back what may still change; at the end, flush everything.
  const settled = reason ? text.length : text.length - stop.pendingTail(text);
  const delta = settled > r.streamed ? text.slice(r.streamed, settled) : '';
  r.streamed = Math.max(r.streamed, settled);
  r.text = text;
  r.stopReason = reason;
  options.onToken?.({ request: r.index, index: r.generated.length - 1, id, text: delta, ...(logprob ? { logprob } : {}) });
}
