/**
 * Special and punctuation token ids for FastGen, read off a vocabulary (`tokens[id]` = the token's
 * text as the tokenizer stores it). Special: `<s>`, `</s>`, `<unk>`, `<|endoftext|>`, `<|…|>`-style
 * tokens. Punctuation: tokens that are only punctuation once the byte-level-BPE space/newline markers
 * (Ġ, Ċ, ▁) are removed, and newline tokens.
 */
export function tokenClassesFromVocabulary(tokens: readonly string[]): { special: Int32Array; punctuation: Int32Array } {
  const special: number[] = [];
  const punctuation: number[] = [];
  tokens.forEach((text, id) => {
    if (/^<\|?[^<>\s]*\|?>$/.test(text) && text.length > 2) special.push(id);
    else if (isPunctuation(text)) punctuation.push(id);
  });
  return { special: Int32Array.from(special), punctuation: Int32Array.from(punctuation) };
}

function isPunctuation(text: string): boolean {
  const newline = /^[Ċ\n\r]+$/u.test(text);
  if (newline) return true;
  const stripped = text.replace(/^[Ġ▁ ]+/u, '').replace(/[Ċ\n\r]+$/u, '');
  return stripped.length > 0 && /^\p{P}+$/u.test(stripped);
}
