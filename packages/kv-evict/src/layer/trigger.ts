import { InvalidConfigError } from '@kvkit/tensor-core';
import { positiveInteger } from '../budget.js';

/**
 * When a layer compresses. Compression always runs after attention (the step's queries see what was
 * stored, then the layer shrinks to its budget), in the phases listed:
 * - `phases`: 'prefill' (kvpress-style: compress the prompt once, let decoded tokens accumulate),
 *   'decode', or 'both' (default);
 * - `interval`: while decoding, compress every `interval` steps (default 1: whenever over budget);
 *   larger intervals amortize the selection and let the cache exceed its budget by up to `interval`
 *   tokens in between (kvpress's DecodingPress `compression_interval`).
 */
export interface TriggerOptions {
  phases?: 'prefill' | 'decode' | 'both';
  interval?: number;
}

export interface Trigger {
  phases: 'prefill' | 'decode' | 'both';
  interval: number;
}

export function resolveTrigger(options: TriggerOptions = {}, where: string): Trigger {
  const phases = options.phases ?? 'both';
  if (phases !== 'prefill' && phases !== 'decode' && phases !== 'both') {
    throw new InvalidConfigError(`${where}: trigger phases must be prefill, decode or both, got ${phases}`);
  }
  return { phases, interval: positiveInteger(options.interval ?? 1, where, 'interval') };
}

/** Tracks decode steps since the last compression and says when the next one is due. */
export class TriggerState {
  private decodeSteps = 0;

  constructor(readonly trigger: Trigger) {}

  /** Whether to compress after this attend call. */
  due(phase: 'prefill' | 'decode'): boolean {
    if (phase === 'prefill') return this.trigger.phases !== 'decode';
    if (this.trigger.phases === 'prefill') return false;
    this.decodeSteps++;
    return this.decodeSteps >= this.trigger.interval;
  }

  /** A compression ran (by the trigger or by an allocator). */
  compressed(): void {
    this.decodeSteps = 0;
  }
}
