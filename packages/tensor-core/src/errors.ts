/**
 * Typed errors with stable codes. Callers branch on `error.code`, never on message text; the message
 * says what was wrong and what would be right.
 */
export type ErrorCode =
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'UNSUPPORTED_DTYPE'
  | 'UNSUPPORTED_BIT_WIDTH'
  | 'INVALID_CONFIG'
  | 'INDEX_OUT_OF_RANGE'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_MISMATCH'
  | 'KERNEL_NOT_FOUND'
  | 'BUDGET_TOO_SMALL'
  | 'CORRUPT_MODEL_FILE'
  | 'UNSUPPORTED_MODEL'
  | 'DEVICE_LOST'
  | 'OUT_OF_MEMORY'
  | 'DISPOSED'
  | 'NOT_CONVERGED'
  | 'NOT_POSITIVE_DEFINITE';

export class KvkitError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export class ShapeMismatchError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SHAPE_MISMATCH', message, details);
  }
}

export class DTypeMismatchError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DTYPE_MISMATCH', message, details);
  }
}

export class UnsupportedDTypeError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNSUPPORTED_DTYPE', message, details);
  }
}

export class UnsupportedBitWidthError extends KvkitError {
  constructor(bits: number, supported: readonly number[], where: string) {
    super('UNSUPPORTED_BIT_WIDTH', `${where}: ${bits}-bit codes are not supported; supported widths: ${supported.join(', ')}`, {
      bits,
      supported,
    });
  }
}

export class InvalidConfigError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_CONFIG', message, details);
  }
}

export class IndexOutOfRangeError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INDEX_OUT_OF_RANGE', message, details);
  }
}

/** A backend that cannot run here; `reasons` lists why each candidate failed and what to install. */
export class BackendUnavailable extends KvkitError {
  readonly reasons: readonly { backend: string; reason: string }[];

  constructor(message: string, reasons: readonly { backend: string; reason: string }[] = [], options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, { reasons }, options);
    this.reasons = reasons;
  }
}

export class BackendMismatchError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('BACKEND_MISMATCH', message, details);
  }
}

export class KernelNotFoundError extends KvkitError {
  constructor(kernel: string, backend: string, available: readonly string[]) {
    super(
      'KERNEL_NOT_FOUND',
      `no kernel "${kernel}" is registered for backend "${backend}"` +
        (available.length ? ` (it is registered for: ${available.join(', ')})` : ' (it is registered for no backend)'),
      { kernel, backend, available },
    );
  }
}

export class BudgetTooSmallError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('BUDGET_TOO_SMALL', message, details);
  }
}

export class CorruptModelFileError extends KvkitError {
  readonly file: string;
  constructor(file: string, problem: string, details: Record<string, unknown> = {}) {
    super('CORRUPT_MODEL_FILE', `${file}: ${problem}`, { file, ...details });
    this.file = file;
  }
}

export class UnsupportedModelError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNSUPPORTED_MODEL', message, details);
  }
}

export class DeviceLostError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DEVICE_LOST', message, details);
  }
}

export class OutOfMemoryError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('OUT_OF_MEMORY', message, details);
  }
}

export class DisposedError extends KvkitError {
  constructor(what: string) {
    super('DISPOSED', `${what} was used after dispose()`);
  }
}

export class NotConvergedError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_CONVERGED', message, details);
  }
}

export class NotPositiveDefiniteError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_POSITIVE_DEFINITE', message, details);
  }
}
