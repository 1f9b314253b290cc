import type { DeviceEngineCase } from "./device-engine-cases.js";
export function deviceEstimatorCases(): DeviceEngineCase[] { return []; }
