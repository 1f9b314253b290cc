import { InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { productMatern, sumKernel } from './combinations.js';
import { cosine, linear, poly } from './dot-product.js';
import type { Kernel, KernelSpec } from './kernel.js';
import { laplace } from './laplace.js';
import { precomputed } from './precomputed.js';
import { imq, matern, rbf } from './radial.js';

/** Rebuilds a kernel from `kernel.toJSON()` (how estimators' `load()` restore theirs). */
export function kernelFromJSON(spec: KernelSpec): Kernel {
  const p = (spec?.params ?? {}) as Record<string, unknown>;
  const num = (key: string): number | undefined => (p[key] === undefined ? undefined : Number(p[key]));
  switch (spec?.name) {
    case 'rbf':
      return rbf({ gamma: num('gamma') });
    case 'laplace':
      return laplace({ gamma: num('gamma') });
    case 'matern':
      return matern({ nu: num('nu'), lengthScale: num('lengthScale') });
    case 'productMatern':
      return productMatern({ nu: Number(p.nu), lengthScale: Number(p.lengthScale) });
    case 'imq':
      return imq({ c: num('c'), beta: num('beta') });
    case 'linear':
      return linear();
    case 'poly':
      return poly({ degree: num('degree'), gamma: num('gamma'), coef0: num('coef0') });
    case 'cosine':
      return cosine();
    case 'sum':
      return sumKernel((p.kernels as KernelSpec[]).map(kernelFromJSON), p.weights as number[]);
    case 'precomputed': {
      const n = Number(p.n);
      const gram: Matrix = { rows: n, cols: n, data: Float64Array.from(p.gram as number[]) };
      return precomputed(gram, { checkPsd: false });
    }
    default:
      throw new InvalidConfigError(`kernelFromJSON: unknown kernel "${String(spec?.name)}"`, { name: spec?.name });
  }
}
