import { generate, type GenerateOptions, type GenerateResult, type TokenEvent } from './generate.js';
import type { LlamaModel } from './model.js';

/** `generate` as an async iterable of its token events, with the whole result beside it. */
export interface GenerationStream extends AsyncIterable<TokenEvent> {
  /** The result once generation ends; rejects as `generate` does (the iteration throws the same error). */
  readonly result: Promise<GenerateResult>;
}

/**
 * Generates as `generate` does, giving each token's event to a `for await` loop as it is sampled
 * (`onToken`, where given, still gets them too). Leaving the loop early (`break`, `return`, a
 * throw) stops the generation at the next token, as an abort `signal` does; `result` then has
 * stopReason 'aborted'. One loop per stream: a second iteration gets nothing.
 */
export function streamGenerate(model: LlamaModel, prompt: string | Int32Array, options: GenerateOptions = {}): GenerationStream {
  const queue: TokenEvent[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const stop = new AbortController();
  const outer = options.signal;
  if (outer?.aborted) stop.abort();
  outer?.addEventListener('abort', () => stop.abort(), { once: true });
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const result = generate(model, prompt, {
    ...options,
    signal: stop.signal,
    onToken: (event) => {
      options.onToken?.(event);
      queue.push(event);
      notify();
    },
  }).finally(() => {
    ended = true;
    notify();
  });
  result.catch(() => {}); // the error reaches the loop (and whoever awaits `result`), not the unhandled-rejection hook
  let iterated = false;

  async function* events(): AsyncGenerator<TokenEvent> {
    if (iterated) return;
    iterated = true;
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as TokenEvent;
        if (ended) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      await result; // a failed generation throws here
    } finally {
      stop.abort(); // the loop was left early: generation stops at its next token
    }
  }
  return { result, [Symbol.asyncIterator]: events };
}
