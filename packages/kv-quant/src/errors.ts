import { InvalidConfigError } from '@kvkit/tensor-core';

/** A method that fits on the model's activations was built without (usable) calibration data. */
export class CalibrationRequiredError extends InvalidConfigError {
  constructor(method: string, detail: string) {
    super(
      `${method}: ${detail}. Collect K/V activations over calibration text (KVCalibrationCollector, fed by @kvkit/llm's forward) and pass { calibration }.`,
      { method }
    );
  }
}
