import { type CompressionPolicy, type PolicyFactory, shrinkHead } from './policy.js';

/** Drops what the selector did not keep; the store frees its bytes. */
export function evictPolicy(): PolicyFactory {
  return (): CompressionPolicy => ({
    name: 'evict',
    apply: (head, keep, context) => shrinkHead(head, keep, context),
  });
}
