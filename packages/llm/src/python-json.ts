/**
 * JSON as Python's `json.dump` writes it: standard JSON plus the bare tokens NaN, Infinity and
 * -Infinity, which transformers' configs carry (Mamba-2 hybrids' `time_step_limit: [0.0, Infinity]`)
 * and `JSON.parse` refuses. Those tokens, outside strings, are read as the numbers they name;
 * anything else invalid still throws `JSON.parse`'s SyntaxError.
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const marked = markNonFiniteTokens(text);
    if (marked === text) throw error;
    return JSON.parse(marked, (_key, value: unknown) => (typeof value === 'string' && NON_FINITE.has(value) ? NON_FINITE.get(value) : value));
  }
}

/** Each token's stand-in string: a NUL-prefixed name, which no config's own string holds. */
const NON_FINITE = new Map<string, number>([
  ['\u0000NaN', NaN],
  ['\u0000Infinity', Infinity],
  ['\u0000-Infinity', -Infinity],
]);

/** `text` with every NaN, Infinity and -Infinity outside a string replaced by its stand-in string. */
function markNonFiniteTokens(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    const token = ['-Infinity', 'Infinity', 'NaN'].find((name) => text.startsWith(name, i));
    if (token) {
      out += JSON.stringify(`\u0000${token}`);
      i += token.length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}
