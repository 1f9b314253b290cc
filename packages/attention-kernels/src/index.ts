export {
  type KiviCacheView,
  KIVI_BITS,
  dequantizeKivi,
  residualKeyTokens,
  residualValueTokens,
  validateKiviView,
} from './formats/kivi.js';
