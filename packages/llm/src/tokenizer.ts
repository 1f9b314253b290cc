import { Tokenizer } from '@huggingface/tokenizers';
import { CorruptModelFileError, IndexOutOfRangeError } from '@kvkit/tensor-core';
import { type ChatMessage, type ChatTemplateOptions, ChatTemplates, specialTokenText } from './chat-template.js';
import { tokenIdList } from './config.js';
import { type ModelFiles, type ModelSource, openModelSource, readJsonFile, readTextFile, requireFile, parseJson } from './model-source.js';

export interface EncodeOptions {
  /** Add the special tokens the tokenizer's post-processor adds (a BOS token for Llama); default true, as in HF. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, chat markers); default false, as in HF. */
  skipSpecialTokens?: boolean;
}

/**
 * A Hugging Face tokenizer (tokenizer.json through `@huggingface/tokenizers`) with the token ids
 * generation needs: EOS ids come from generation_config.json, else config.json, else the
 * tokenizer config's `eos_token`. Instruct models' conversations go through the chat template
 * (`applyChatTemplate`, `encodeChat`).
 */
export class LlamaTokenizer {
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | undefined;
  /** One more than the largest id the tokenizer can produce (vocabulary plus added tokens). */
  readonly vocabSize: number;
  /** The chat templates: tokenizer_config.json's `chat_template`, or chat_template.jinja. */
  readonly chatTemplates: ChatTemplates;
  private readonly tokenizer: Tokenizer;

  /** `ids.chatTemplate`: the text of chat_template.jinja, which replaces the config's default template. */
  constructor(
    tokenizerJson: object,
    tokenizerConfig: Record<string, unknown> = {},
    ids: { eosTokenIds?: readonly number[]; bosTokenId?: number; chatTemplate?: string } = {},
  ) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new CorruptModelFileError('tokenizer.json', `could not be read as a Hugging Face tokenizer: ${(error as Error).message}`);
    }
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    const eosFromConfig = this.tokenId(tokenizerConfig.eos_token);
    this.eosTokenIds = ids.eosTokenIds && ids.eosTokenIds.length > 0 ? [...ids.eosTokenIds] : eosFromConfig === undefined ? [] : [eosFromConfig];
    this.bosTokenId = ids.bosTokenId ?? this.tokenId(tokenizerConfig.bos_token);
    this.chatTemplates = ChatTemplates.fromConfig(tokenizerConfig, ids.chatTemplate);
  }

  /** Whether the tokenizer carries a chat template (an instruct model's). */
  get hasChatTemplate(): boolean {
    return this.chatTemplates.names.length > 0;
  }

  /**
   * The conversation as text, written by the chat template the way transformers'
   * `apply_chat_template(messages, tokenize=False)` writes it. `addGenerationPrompt: true` ends with
   * the opening of the assistant's turn, what a generation continues. A conversation the template
   * refuses (its `raise_exception`, e.g. roles that do not alternate) is an InvalidConfigError with
   * the template's message.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    return this.chatTemplates.render(messages, options);
  }

  /**
   * `applyChatTemplate`'s text as token ids, without adding special tokens (the template writes
   * them), as transformers' `apply_chat_template(messages, tokenize=True)`: a prompt for `generate`.
   */
  encodeChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): Int32Array {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }

  encode(text: string, options: EncodeOptions = {}): Int32Array {
    return Int32Array.from(this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids);
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (let i = 0; i < list.length; i++) {
      if (!Number.isInteger(list[i]) || list[i] < 0 || list[i] >= this.vocabSize) {
        throw new IndexOutOfRangeError(`decode: token id ${list[i]} at index ${i} is outside the tokenizer's ids [0, ${this.vocabSize})`, { index: i, id: list[i] });
      }
    }
    // The library refuses an empty list; no tokens decode to the empty string, as in the Rust tokenizers.
    if (list.length === 0) return '';
    return this.tokenizer.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** True for added special tokens (BOS/EOS, chat markers). */
  isSpecial(id: number): boolean {
    return this.tokenizer.get_added_tokens_decoder().get(id)?.special ?? false;
  }

  private tokenId(token: unknown): number | undefined {
    const text = specialTokenText(token);
    return text === undefined ? undefined : this.tokenizer.token_to_id(text);
  }
}

/** Reads tokenizer.json (required) and tokenizer_config.json, chat_template.jinja, generation_config.json, config.json (optional). */
export async function loadTokenizer(source: ModelSource | ModelFiles): Promise<LlamaTokenizer> {
  const files = openModelSource(source);
  const tokenizerJson = parseJson(await requireFile(files, 'tokenizer.json'), 'tokenizer.json');
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null || Array.isArray(tokenizerJson)) {
    throw new CorruptModelFileError('tokenizer.json', 'must hold a JSON object');
  }
  const tokenizerConfig = ((await readJsonFile(files, 'tokenizer_config.json')) ?? {}) as Record<string, unknown>;
  const generation = ((await readJsonFile(files, 'generation_config.json')) ?? {}) as Record<string, unknown>;
  const model = ((await readJsonFile(files, 'config.json')) ?? {}) as Record<string, unknown>;
  const eosFromGeneration = tokenIdList(generation.eos_token_id);
  const eosTokenIds = eosFromGeneration.length > 0 ? eosFromGeneration : tokenIdList(model.eos_token_id);
  const bos = generation.bos_token_id ?? model.bos_token_id;
  const chatTemplate = await readTextFile(files, 'chat_template.jinja');
  return new LlamaTokenizer(tokenizerJson, tokenizerConfig, { eosTokenIds, bosTokenId: typeof bos === 'number' ? bos : undefined, chatTemplate });
}
