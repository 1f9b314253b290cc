import { InvalidConfigError, type MethodContext } from '@kvkit/tensor-core';
import { KVCalibrationSet } from '../calibration/calibration-set.js';
import type { ProjectionSet } from '../fit/projection-set.js';
import type { MlaConversion } from '../mla/mha2mla-fit.js';
import type { RankAllocation } from '../rank/allocation.js';
import type { SharingPlan } from '../sharing/shared-layers.js';

/**
 * What a harness passes as `context.calibration` to kv-lowrank's methods: the calibration set (fits
 * missing below are made from it, once per set and fit), and/or fits made earlier (loaded with
 * `loadProjections`, or from a rank search). A bare `KVCalibrationSet` is accepted too.
 */
export interface LowRankCalibration {
  set?: KVCalibrationSet;
  /** Fitted projections by method name: eigen, palu, matryoshka, cskv, headmerge, shadowkv. */
  projections?: Partial<Record<string, ProjectionSet>>;
  /** Ranks by method name (e.g. from `searchRanksByKL`), used unless a rank parameter is given. */
  ranks?: Partial<Record<string, RankAllocation>>;
  mla?: MlaConversion;
  sharing?: SharingPlan;
}

/** Reads `context.calibration` in either form. */
export function calibrationOf(context: MethodContext | undefined): LowRankCalibration {
  const given = context?.calibration;
  if (given instanceof KVCalibrationSet) return { set: given };
  if (given && typeof given === 'object') {
    const c = given as LowRankCalibration;
    if (c.set !== undefined && !(c.set instanceof KVCalibrationSet)) throw new InvalidConfigError('calibration.set must be a KVCalibrationSet');
    return c;
  }
  return {};
}

const fits = new WeakMap<KVCalibrationSet, Map<string, unknown>>();

/**
 * The fit of `key` for a set, computed once per set (a harness builds several rows of one method
 * from the same calibration run).
 */
export function memoizedFit<T>(set: KVCalibrationSet, key: string, fit: () => T): T {
  let perSet = fits.get(set);
  if (!perSet) {
    perSet = new Map();
    fits.set(set, perSet);
  }
  if (!perSet.has(key)) perSet.set(key, fit());
  return perSet.get(key) as T;
}

/** The fitted projections a method needs: given ones first, else fitted from the set, else a typed error. */
export function projectionsFor(method: string, context: MethodContext | undefined, fitKey: string, fit: (set: KVCalibrationSet) => ProjectionSet): ProjectionSet {
  const calibration = calibrationOf(context);
  const given = calibration.projections?.[method];
  if (given) return given;
  if (!calibration.set) {
    throw new InvalidConfigError(
      `${method} needs calibration: pass context.calibration = a KVCalibrationSet (or { set }, or { projections: { ${method}: … } } from loadProjections)`,
    );
  }
  const set = calibration.set;
  return memoizedFit(set, fitKey, () => fit(set));
}
