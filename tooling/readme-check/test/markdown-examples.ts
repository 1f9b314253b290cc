import { readFileSync } from 'node:fs';

/** A fenced code block of a Markdown file, with the 1-based line its code starts on. */
export interface CodeBlock {
  language: string;
  line: number;
  code: string;
}

/** The fenced (```) code blocks of a Markdown file, in order. */
export function codeBlocks(markdownFile: string): CodeBlock[] {
  const lines = readFileSync(markdownFile, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  let open: { language: string; line: number; body: string[] } | undefined;
  lines.forEach((text, i) => {
    const fence = /^```\s*(\S*)/.exec(text);
    if (!fence) {
      open?.body.push(text);
    } else if (open) {
      blocks.push({ language: open.language, line: open.line, code: `${open.body.join('\n')}\n` });
      open = undefined;
    } else {
      open = { language: fence[1], line: i + 2, body: [] };
    }
  });
  if (open) throw new Error(`${markdownFile}: the code block opened at line ${open.line - 1} is never closed`);
  return blocks;
}
