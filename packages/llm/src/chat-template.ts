// Chat templates (Jinja, as Hugging Face tokenizers carry them) rendered with @huggingface/jinja,
// given the variables transformers' `apply_chat_template` gives: the messages, tools, documents,
// add_generation_prompt, the tokenizer's special tokens as strings, and whatever else the caller
// passes (date_string, enable_thinking ...).
import { Template } from '@huggingface/jinja';
import { CorruptModelFileError, InvalidConfigError } from '@kvkit/tensor-core';

/** One turn of a conversation: a role ('system', 'user', 'assistant', 'tool' ...) and whatever fields the template reads. */
export interface ChatMessage {
  role: string;
  content?: unknown;
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** End with the opening of an assistant turn, for generation (default false, as in transformers). */
  addGenerationPrompt?: boolean;
  /** Tool (function) definitions, as JSON schemas; the template decides how to show them. */
  tools?: readonly object[];
  /** Documents for retrieval-augmented templates. */
  documents?: readonly object[];
  /** One of the tokenizer's named templates; default 'tool_use' when tools are given and it has one, else 'default'. */
  templateName?: string;
  /** A template (Jinja source) to use instead of the tokenizer's. */
  template?: string;
  /** More variables the template reads (e.g. `date_string`, `enable_thinking`). */
  variables?: Record<string, unknown>;
}

/** The template sources of a tokenizer, by name ('default' for a single one), parsed at first use. */
export class ChatTemplates {
  private readonly parsed = new Map<string, Template>();

  private constructor(
    private readonly sources: ReadonlyMap<string, { source: string; file: string }>,
    /** The special tokens' strings (bos_token, eos_token ...), variables of every rendering. */
    private readonly specialTokens: Readonly<Record<string, string>>,
  ) {}

  /**
   * From tokenizer_config.json's `chat_template` (a string, or a list of `{ name, template }`) and
   * the text of chat_template.jinja, which where present is the default template (transformers
   * saves it there since version 4.50).
   */
  static fromConfig(tokenizerConfig: Record<string, unknown>, jinjaFile?: string): ChatTemplates {
    const sources = new Map<string, { source: string; file: string }>();
    const config = tokenizerConfig.chat_template;
    const file = 'tokenizer_config.json';
    if (typeof config === 'string') sources.set('default', { source: config, file });
    else if (Array.isArray(config)) {
      for (const entry of config) {
        const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
        if (typeof name !== 'string' || typeof template !== 'string') {
          throw new CorruptModelFileError(file, 'chat_template must be a string or a list of { name, template } strings');
        }
        sources.set(name, { source: template, file });
      }
    } else if (config !== undefined && config !== null) {
      throw new CorruptModelFileError(file, `chat_template must be a string or a list of { name, template }, got ${typeof config}`);
    }
    if (jinjaFile !== undefined) sources.set('default', { source: jinjaFile, file: 'chat_template.jinja' });
    return new ChatTemplates(sources, specialTokenStrings(tokenizerConfig));
  }

  /** The names of the templates ('default' for a single one); empty when the tokenizer has none. */
  get names(): string[] {
    return [...this.sources.keys()];
  }

  /** The conversation as the template writes it (see `ChatTemplateOptions`). */
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const where = 'applyChatTemplate';
    if (!Array.isArray(messages) || messages.some((m) => typeof m !== 'object' || m === null || typeof m.role !== 'string')) {
      throw new InvalidConfigError(`${where}: messages must be an array of { role: string, content, … } objects`);
    }
    const template = options.template !== undefined ? parseTemplate(options.template, null) : this.template(options);
    const variables: Record<string, unknown> = {
      ...this.specialTokens,
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    if (options.tools !== undefined) variables.tools = options.tools;
    if (options.documents !== undefined) variables.documents = options.documents;
    try {
      return template.render(variables);
    } catch (error) {
      // The template's own raise_exception (roles that do not alternate …) lands here with its message, as any other failure.
      throw new InvalidConfigError(`${where}: the chat template stopped on this conversation: ${(error as Error).message}`);
    }
  }

  /** The template `options` ask for, parsed once. */
  private template(options: ChatTemplateOptions): Template {
    const name = options.templateName ?? (options.tools !== undefined && this.sources.has('tool_use') ? 'tool_use' : 'default');
    const entry = this.sources.get(name);
    if (!entry) {
      const names = this.names;
      throw new InvalidConfigError(
        names.length === 0
          ? 'applyChatTemplate: the tokenizer has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); pass one as options.template'
          : `applyChatTemplate: the tokenizer has no chat template named "${name}"; it has ${names.map((n) => `"${n}"`).join(', ')}`,
      );
    }
    let template = this.parsed.get(name);
    if (!template) {
      template = parseTemplate(entry.source, entry.file);
      this.parsed.set(name, template);
    }
    return template;
  }
}

/** Parses Jinja source: a CorruptModelFileError naming `file` when it came from the model, else an InvalidConfigError. */
function parseTemplate(source: string, file: string | null): Template {
  try {
    return new Template(source);
  } catch (error) {
    const reason = `the chat template does not parse: ${(error as Error).message}`;
    throw file === null ? new InvalidConfigError(`applyChatTemplate: ${reason}`) : new CorruptModelFileError(file, reason);
  }
}

/** A special token of tokenizer_config.json as its text: the config writes a string or an added-token `{ content, … }` object. */
export function specialTokenText(value: unknown): string | undefined {
  const content = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
  return typeof content === 'string' ? content : undefined;
}

/** The special tokens of tokenizer_config.json (`bos_token` …) as strings, as transformers passes them. */
function specialTokenStrings(config: Record<string, unknown>): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const name of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
    const text = specialTokenText(config[name]);
    if (text !== undefined) tokens[name] = text;
  }
  return tokens;
}
