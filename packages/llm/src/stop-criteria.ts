import { InvalidConfigError } from '@kvkit/tensor-core';

/**
 * When generation stops: on a stop token id (EOS by default) or when the generated text contains a
 * stop string. Also says how much of the text tail must be held back from a stream because it may
 * still turn into a stop string (or is an incomplete UTF-8 character).
 */
export class StopCriteria {
  readonly tokenIds: ReadonlySet<number>;
  readonly strings: readonly string[];

  constructor(stop: ReadonlyArray<string | number> = [], eosTokenIds: readonly number[] = []) {
    const ids = new Set<number>(eosTokenIds);
    const strings: string[] = [];
    for (const item of stop) {
      if (typeof item === 'number') {
        if (!Number.isInteger(item) || item < 0) throw new InvalidConfigError(`stop: token ids must be integers >= 0, got ${item}`);
        ids.add(item);
      } else if (typeof item === 'string') {
        if (item.length === 0) throw new InvalidConfigError('stop: stop strings must not be empty');
        strings.push(item);
      } else {
        throw new InvalidConfigError(`stop: entries must be strings or token ids, got ${JSON.stringify(item)}`);
      }
    }
    this.tokenIds = ids;
    this.strings = strings;
  }

  isStopToken(id: number): boolean {
    return this.tokenIds.has(id);
  }

  /** Where the earliest stop string starts in `text`, or -1. */
  findStopString(text: string): number {
    let first = -1;
    for (const s of this.strings) {
      const at = text.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    return first;
  }

  /**
   * How many characters at the end of `text` may not be streamed yet: a trailing replacement
   * character (a multi-byte character split across tokens) or the start of a stop string.
   */
  pendingTail(text: string): number {
    let tail = 0;
    while (tail < text.length && text[text.length - 1 - tail] === '\uFFFD') tail++;
    const settled = text.length - tail;
    for (const s of this.strings) {
      for (let k = Math.min(s.length - 1, settled); k > 0; k--) {
        if (text.endsWith(s.slice(0, k), settled)) {
          tail = Math.max(tail, text.length - settled + k);
          break;
        }
      }
    }
    return tail;
  }
}
