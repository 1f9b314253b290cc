import type { Backend } from './backend.js';
import { BackendUnavailable } from './errors.js';

/**
 * Refuses, when a cache or codec is built, a backend it could only fail on later: `what` reads
 * values back on the host every step (`why`), which only synchronous backends (the CPU) allow.
 * Without this the first step would fail with readSync's generic message, mid-generation.
 */
export function requireSynchronousBackend(backend: Backend, what: string, why: string): void {
  if (backend.synchronous) return;
  throw new BackendUnavailable(
    `${what} ${why}, which needs a backend that reads back synchronously (the CPU); "${backend.name}" is asynchronous. Run it on the CPU backend.`,
    [{ backend: backend.name, reason: `${what} reads device values on the host synchronously` }],
  );
}
