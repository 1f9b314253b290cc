import { CorruptModelFileError, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';

/** A matrix as plain JSON. */
export interface MatrixJSON {
  rows: number;
  cols: number;
  data: number[];
}

export function matrixToJSON(m: Matrix): MatrixJSON {
  return { rows: m.rows, cols: m.cols, data: Array.from(m.data) };
}

export function matrixFromJSON(json: MatrixJSON, where: string, field: string): Matrix {
  if (!json || !Number.isInteger(json.rows) || !Number.isInteger(json.cols) || !Array.isArray(json.data) || json.data.length !== json.rows * json.cols) {
    throw new CorruptModelFileError(where, `field "${field}" is not a {rows, cols, data} matrix of matching size`);
  }
  return { rows: json.rows, cols: json.cols, data: Float64Array.from(json.data) };
}

/** Checks the `name` tag of a serialized model (ml-pca's convention) and its version. */
export function requireModelTag(json: { name?: unknown; version?: unknown } | undefined, name: string): void {
  if (!json || json.name !== name) {
    throw new CorruptModelFileError(name, `expected a serialized ${name} (name "${name}"), got ${JSON.stringify(json?.name)}`);
  }
  if (json.version !== 1) throw new CorruptModelFileError(name, `unsupported version ${JSON.stringify(json.version)} (this build reads version 1)`);
}

/** Throws when an estimator is used before `fit`. */
export function requireFitted<T>(value: T | undefined, where: string): T {
  if (value === undefined) throw new InvalidConfigError(`${where}: the estimator is not fitted; call fit() first (or load() a fitted one)`);
  return value;
}
