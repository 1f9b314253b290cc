export {
  SAFETENSORS_DTYPE_BYTES,
  SAFETENSORS_FLOAT_DTYPES,
  type SafetensorsArrayOf,
  type SafetensorsArray,
  type SafetensorsDType,
} from './dtypes.js';
export {
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsFile,
  safetensorsHeaderLength,
  parseSafetensorsHeader,
  parseSafetensors,
} from './parse.js';
export { decodeSafetensorsFloat32, readSafetensorsFloat32, readSafetensorsData } from './read.js';
export { type SafetensorsInput, serializeSafetensors } from './serialize.js';
