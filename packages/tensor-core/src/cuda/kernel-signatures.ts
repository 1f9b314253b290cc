// The signatures of tensor-core's kernels are declared (by declaration merging) next to their ops.
// These type-only imports put every op module into the cuda entry's type graph, so the CUDA
// implementations type-check (and their .d.ts build) on their own. Nothing is imported at run time.
import type * as attention from '../ops/attention.js';
import type * as causalConv from '../ops/causal-conv.js';
import type * as creation from '../ops/creation.js';
import type * as elementwise from '../ops/elementwise.js';
import type * as gatedDeltaRule from '../ops/gated-delta-rule.js';
import type * as indexedMatmul from '../ops/indexed-matmul.js';
import type * as indexing from '../ops/indexing.js';
import type * as layout from '../ops/layout.js';
import type * as matmul from '../ops/matmul.js';
import type * as norm from '../ops/norm.js';
import type * as packing from '../ops/packing.js';
import type * as reduce from '../ops/reduce.js';
import type * as rope from '../ops/rope.js';
import type * as selectiveScan from '../ops/selective-scan.js';
import type * as softmax from '../ops/softmax.js';

export type TensorCoreOps = [
  typeof attention,
  typeof causalConv,
  typeof creation,
  typeof elementwise,
  typeof gatedDeltaRule,
  typeof indexedMatmul,
  typeof indexing,
  typeof layout,
  typeof matmul,
  typeof norm,
  typeof packing,
  typeof reduce,
  typeof rope,
  typeof selectiveScan,
  typeof softmax,
];
