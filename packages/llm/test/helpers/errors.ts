import { KvkitError } from '@kvkit/tensor-core';
import { expect } from 'vitest';

function check(caught: unknown, code: string, pattern?: RegExp): KvkitError {
  expect(caught).toBeInstanceOf(KvkitError);
  expect((caught as KvkitError).code).toBe(code);
  if (pattern) expect((caught as Error).message).toMatch(pattern);
  return caught as KvkitError;
}

/** Runs `fn`, expecting a KvkitError with `code` whose message matches `pattern`; returns it. */
export function expectKvkitError(fn: () => unknown, code: string, pattern?: RegExp): KvkitError {
  try {
    fn();
  } catch (error) {
    return check(error, code, pattern);
  }
  return check(undefined, code, pattern);
}

/** The same for a promise. */
export async function expectKvkitErrorAsync(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<KvkitError> {
  try {
    await promise;
  } catch (error) {
    return check(error, code, pattern);
  }
  return check(undefined, code, pattern);
}
