/**
 * A from-the-definition byte-level BPE encoder (GPT-2 style), written for the tests: split with the
 * GPT-2 pre-tokenization pattern, map each UTF-8 byte to its printable stand-in character, then
 * repeatedly merge the adjacent pair with the lowest merge rank. Handles tokenizer.json files
 * without added tokens in the text, normalizer or post-processor (like models/kvkit-tiny).
 */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return map;
}

export class ReferenceBpe {
  private readonly vocab: Map<string, number>;
  private readonly ranks = new Map<string, number>();
  private readonly bytes = byteToUnicode();

  constructor(tokenizerJson: { model: { vocab: Record<string, number>; merges: (string | [string, string])[] } }) {
    this.vocab = new Map(Object.entries(tokenizerJson.model.vocab));
    tokenizerJson.model.merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
      this.ranks.set(`${a}\u0000${b}`, rank);
    });
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of text.match(GPT2_PATTERN) ?? []) {
      const symbols = [...new TextEncoder().encode(piece)].map((b) => this.bytes[b]);
      for (const token of this.merge(symbols)) {
        const id = this.vocab.get(token);
        if (id === undefined) throw new Error(`reference BPE: token ${JSON.stringify(token)} is not in the vocabulary`);
        ids.push(id);
      }
    }
    return ids;
  }

  private merge(symbols: string[]): string[] {
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(`${symbols[i]}\u0000${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) return symbols;
      const [a, b] = [symbols[best], symbols[best + 1]];
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(symbols[i]);
      }
      symbols = merged;
    }
  }
}
