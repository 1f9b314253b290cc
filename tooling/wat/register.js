// `node --import tsx --import @kvkit/wat/register script.ts`: scripts run from source (benchmarks,
// the GPU check's data export) load .wat imports as their compiled bytes, as the builds do.
import { register } from 'node:module';

register('./hooks.js', import.meta.url);
