import type { Backend } from './backend.js';
import { cpuBackend } from './cpu/cpu-backend.js';
import { BackendUnavailable, InvalidConfigError } from './errors.js';

export type BackendFactory = () => Backend | Promise<Backend>;

export interface BackendRegistration {
  /** Higher is tried first when no preference is given. */
  priority?: number;
  /** What a user must install or enable when the factory fails (shown in BackendUnavailable). */
  installHint?: string;
}

interface Entry {
  name: string;
  factory: BackendFactory;
  priority: number;
  installHint?: string;
  instance?: Backend;
  pending?: Promise<Backend>;
}

const entries = new Map<string, Entry>([['cpu', { name: 'cpu', factory: cpuBackend, priority: 0 }]]);
let defaultBackendInstance: Backend | undefined;

/** Makes a backend available under `name`; the factory runs on first use. */
export function registerBackend(name: string, factory: BackendFactory, registration: BackendRegistration = {}): void {
  if (!name || typeof factory !== 'function') throw new InvalidConfigError('registerBackend needs a name and a factory function', { name });
  const previous = entries.get(name);
  if (previous?.instance) previous.instance.dispose();
  entries.set(name, { name, factory, priority: registration.priority ?? 0, installHint: registration.installHint });
}

/** Registered backend names, highest priority first. */
export function registeredBackends(): string[] {
  return [...entries.values()].sort((a, b) => b.priority - a.priority).map((e) => e.name);
}

/**
 * Initializes and returns the first backend of `preference` (a name or an ordered list; default:
 * every registered backend by priority) that works here. When none does, throws
 * `BackendUnavailable` listing why each failed and what to install.
 */
export async function resolveBackend(preference?: string | readonly string[]): Promise<Backend> {
  const names = preference === undefined ? registeredBackends() : typeof preference === 'string' ? [preference] : [...preference];
  if (names.length === 0) throw new InvalidConfigError('resolveBackend: empty preference list');
  const reasons: { backend: string; reason: string }[] = [];
  for (const name of names) {
    const entry = entries.get(name);
    if (!entry) {
      reasons.push({ backend: name, reason: `no backend named "${name}" is registered (registered: ${registeredBackends().join(', ')})` });
      continue;
    }
    try {
      return await initialize(entry);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      reasons.push({ backend: name, reason: entry.installHint ? `${message} — ${entry.installHint}` : message });
    }
  }
  throw new BackendUnavailable(
    `no usable backend among ${names.join(', ')}:\n` + reasons.map((r) => `  ${r.backend}: ${r.reason}`).join('\n'),
    reasons,
  );
}

/** An already-initialized backend (`cpu` always is); others need `await resolveBackend(name)` first. */
export function getBackend(name: string): Backend {
  const entry = entries.get(name);
  if (name === 'cpu' && entry && !entry.instance) entry.instance = cpuBackend();
  if (!entry?.instance) {
    throw new BackendUnavailable(
      entry
        ? `backend "${name}" is registered but not initialized; call await resolveBackend('${name}') first`
        : `no backend named "${name}" is registered (registered: ${registeredBackends().join(', ')})`,
      [{ backend: name, reason: entry ? 'not initialized' : 'not registered' }],
    );
  }
  return entry.instance;
}

/** The backend that creation functions use when none is given (CPU unless changed). */
export function defaultBackend(): Backend {
  return defaultBackendInstance ?? getBackend('cpu');
}

export function setDefaultBackend(backend: Backend | string): void {
  defaultBackendInstance = typeof backend === 'string' ? getBackend(backend) : backend;
}

async function initialize(entry: Entry): Promise<Backend> {
  if (entry.instance) return entry.instance;
  if (!entry.pending) {
    entry.pending = Promise.resolve()
      .then(() => entry.factory())
      .then(
        (backend) => {
          entry.instance = backend;
          return backend;
        },
        (error: unknown) => {
          entry.pending = undefined; // let a later call retry (e.g. after installing the package)
          throw error;
        },
      );
  }
  return entry.pending;
}
