import type { CalibrationData } from './calibration.js';
import type { MethodMeasurement } from './measure.js';
import type { BenchSettings } from './settings.js';

/** What a bench worker is started with (its workerData). */
export interface WorkerSetup {
  modelDir: string;
  halfWeights: boolean;
  /** config.json fields replaced before it is read (loadModel's configOverrides). */
  configOverrides: Record<string, unknown>;
  backend: string;
  text: string;
  settings: BenchSettings;
  /** Collected once in the main thread; each worker loads it into its methods' contexts. */
  calibration: CalibrationData;
  /** Threads each worker's matrix products may use (tensor-core's setSimdThreads): the cores the workers leave over. */
  threads: number;
}

/** Main thread → worker. */
export type ToWorker =
  | { type: 'run'; index: number; spec: string; isReference: boolean }
  | { type: 'reference'; logProbs: Float32Array[][] }
  | { type: 'exit' };

/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; label: string; tokens: number }
  | { type: 'reference'; logProbs: Float32Array[][] }
  | { type: 'result'; index: number; measurement: MethodMeasurement }
  | { type: 'error'; code?: string; message: string };
