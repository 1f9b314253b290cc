// The passkey-retrieval format shared by the training recipe (which mixes such documents into the
// training data) and kv-bench (which measures retrieval): a number stated early, filler text,
// and the question at the end (Mohtashami & Jaggi, "Landmark Attention", 2023).

export const PASSKEY_INTRO = 'There is an important pass key hidden inside a lot of irrelevant text. Find it and memorize it.\n';
export const CLASSIC_FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ';
export const PASSKEY_QUESTION = '\nWhat is the pass key? The pass key is';

/** The sentence that states the key. */
export function passkeyStatement(key) {
  return `\nThe pass key is ${key}. Remember it. ${key} is the pass key.\n`;
}

/**
 * A passkey document: intro, filler before, the key, filler after, the question. `prompt` ends right
 * before the answer; `answer` is ` <key>.` (what a model should continue with).
 */
export function passkeyDocument({ key, fillerBefore, fillerAfter }) {
  const prompt = PASSKEY_INTRO + fillerBefore + passkeyStatement(key) + fillerAfter + PASSKEY_QUESTION;
  return { prompt, answer: ` ${key}.`, text: `${prompt} ${key}.` };
}

/** A random five-digit key from a [0, 1) generator. */
export function randomPasskey(random) {
  return String(10000 + Math.floor(random() * 90000));
}
