import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ChatMessage, generate, LlamaTokenizer, loadModel, loadTokenizer } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { FIXTURES, KVKIT_TINY } from './helpers/fixtures.js';

/** Written by tooling/fixtures/chat_templates.py: each template rendered by Python's Jinja2 the way transformers sets it up. */
interface ChatReference {
  specialTokens: Record<string, string>;
  templates: Record<string, string>;
  cases: Array<{ template: string; messages: ChatMessage[]; variables: Record<string, unknown>; text?: string; error?: string }>;
}
const reference = JSON.parse(readFileSync(join(FIXTURES, 'chat-templates', 'reference.json'), 'utf8')) as ChatReference;
const tokenizerJson = JSON.parse(readFileSync(join(KVKIT_TINY, 'tokenizer.json'), 'utf8')) as object;

/** kvkit-tiny's tokenizer with `chatTemplate` as its tokenizer_config.json's `chat_template`. */
function tokenizerWith(chatTemplate: unknown, chatTemplateFile?: string): LlamaTokenizer {
  return new LlamaTokenizer(tokenizerJson, { ...reference.specialTokens, chat_template: chatTemplate }, { chatTemplate: chatTemplateFile });
}

/** The case's options in this API: add_generation_prompt and tools by name, every other variable as is. */
function optionsOf(variables: Record<string, unknown>) {
  const { add_generation_prompt, tools, ...rest } = variables;
  return { addGenerationPrompt: add_generation_prompt as boolean, ...(tools ? { tools: tools as object[] } : {}), variables: rest };
}

describe('applyChatTemplate: the text Jinja2 writes, as transformers renders it', () => {
  for (const [index, c] of reference.cases.entries()) {
    if (c.template.startsWith('named-')) continue;
    it(`${c.template} #${index}: ${c.messages.map((m) => m.role).join(', ')}${c.error ? ' (refused)' : ''}`, () => {
      const tokenizer = tokenizerWith(reference.templates[c.template]);
      expect(tokenizer.hasChatTemplate).toBe(true);
      const options = optionsOf(c.variables);
      if (c.error !== undefined) {
        const message = c.error.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        expectKvkitError(() => tokenizer.applyChatTemplate(c.messages, options), 'INVALID_CONFIG', new RegExp(`the chat template stopped on this conversation: ${message}$`));
        return;
      }
      expect(tokenizer.applyChatTemplate(c.messages, options)).toBe(c.text);
      // As a prompt: the text's ids without added special tokens (the template writes them).
      expect(Array.from(tokenizer.encodeChat(c.messages, options))).toEqual(Array.from(tokenizer.encode(c.text as string, { addSpecialTokens: false })));
    });
  }

  it('named templates: tool_use when tools are given, default otherwise, or the one asked for', () => {
    const named = [
      { name: 'default', template: reference.templates['named-default'] },
      { name: 'tool_use', template: reference.templates['named-tool-use'] },
    ];
    const tokenizer = tokenizerWith(named);
    expect(tokenizer.chatTemplates.names).toEqual(['default', 'tool_use']);
    for (const c of reference.cases.filter((x) => x.template.startsWith('named-'))) {
      expect(tokenizer.applyChatTemplate(c.messages, optionsOf(c.variables))).toBe(c.text);
    }
    const toolCase = reference.cases.find((x) => x.template === 'named-tool-use')!;
    const { tools, ...withoutTools } = toolCase.variables;
    expect(tokenizer.applyChatTemplate(toolCase.messages, { ...optionsOf(withoutTools), tools: tools as object[], templateName: 'tool_use' })).toBe(toolCase.text);
    expectKvkitError(() => tokenizer.applyChatTemplate(toolCase.messages, { templateName: 'rag' }), 'INVALID_CONFIG', /no chat template named "rag"; it has "default", "tool_use"/);
  });

  it('chat_template.jinja replaces the config’s default; options.template replaces both', () => {
    const c = reference.cases.find((x) => x.template === 'headers')!;
    const tokenizer = tokenizerWith('{{ "not this one" }}', reference.templates.headers);
    expect(tokenizer.applyChatTemplate(c.messages, optionsOf(c.variables))).toBe(c.text);
    expect(tokenizer.applyChatTemplate(c.messages, { template: '{{ messages | length }} turns' })).toBe('4 turns');
  });
});

describe('applyChatTemplate: bad input and broken templates', () => {
  const chatml = reference.templates['chatml-tools'];

  it('a tokenizer without a chat template says so, and takes one as options.template', () => {
    const tokenizer = tokenizerWith(undefined);
    expect(tokenizer.hasChatTemplate).toBe(false);
    expectKvkitError(() => tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }]), 'INVALID_CONFIG', /has no chat template .*pass one as options\.template/);
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }], { template: chatml, addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('messages that are not { role } objects are refused before the template runs', () => {
    const tokenizer = tokenizerWith(chatml);
    for (const messages of [[{ content: 'no role' }], 'Hi', [null], [{ role: 3 }]]) {
      expectKvkitError(() => tokenizer.applyChatTemplate(messages as never), 'INVALID_CONFIG', /messages must be an array of \{ role: string, content, … \} objects/);
    }
  });

  it('a template that does not parse names its file; one that fails on a conversation is an InvalidConfigError', () => {
    expectKvkitError(() => tokenizerWith('{% for m in messages %}{{ m.role }}').applyChatTemplate([{ role: 'user', content: 'Hi' }]), 'CORRUPT_MODEL_FILE', /tokenizer_config\.json.*does not parse/);
    expectKvkitError(() => tokenizerWith(chatml, '{{ unclosed').applyChatTemplate([{ role: 'user', content: 'Hi' }]), 'CORRUPT_MODEL_FILE', /chat_template\.jinja.*does not parse/);
    expectKvkitError(() => tokenizerWith(chatml).applyChatTemplate([{ role: 'user', content: 'Hi' }], { template: '{% if %}' }), 'INVALID_CONFIG', /does not parse/);
    expectKvkitError(() => tokenizerWith('{{ messages[0].nope | upper }}').applyChatTemplate([{ role: 'user', content: 'Hi' }]), 'INVALID_CONFIG', /stopped on this conversation/);
    expect(() => tokenizerWith(42)).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
    expect(() => tokenizerWith([{ name: 'default' }])).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
  });
});

describe('chat templates from a model directory', () => {
  it('loadTokenizer reads chat_template.jinja; a conversation prompt generates', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) files[name] = readFileSync(join(KVKIT_TINY, name));
    files['chat_template.jinja'] = new TextEncoder().encode(reference.templates['named-default']);
    const tokenizer = await loadTokenizer({ files });
    const messages = [{ role: 'user', content: 'Call me Ishmael.' }];
    expect(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe('USER: Call me Ishmael.\nASSISTANT:');
    expect((await loadTokenizer(KVKIT_TINY)).hasChatTemplate).toBe(false);
    const model = await loadModel({ files });
    const prompt = model.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
    const result = await generate(model, prompt, { maxNewTokens: 4 });
    expect(result.promptTokens).toBe(prompt.length);
    expect(result.generatedTokens).toBeGreaterThan(0);
    model.dispose();
  });
});
