import { type CacheMethod, DisposedError, InvalidConfigError, type KVCache } from '@kvkit/tensor-core';
import type { ChatMessage, ChatTemplateOptions } from './chat-template.js';
import { generate, type GenerateOptions, type GenerateResult } from './generate.js';
import type { LlamaModel } from './model.js';

export interface ChatSessionOptions {
  /** The cache method of the conversation's cache (default: the model's own). */
  cache?: CacheMethod;
  /** A system message to open the conversation with. */
  system?: string;
  /** How the chat template is applied (a template of one's own, its name, tools, variables …). */
  template?: Omit<ChatTemplateOptions, 'addGenerationPrompt'>;
}

export interface ChatReply extends GenerateResult {
  /** Prompt tokens read from the cache the earlier turns left rather than computed again. */
  reusedTokens: number;
}

/**
 * A conversation with one KV cache for all its turns: each `send` writes the whole conversation
 * through the chat template, and only the tokens the cache does not hold yet are computed (the new
 * user turn, and what closes the previous reply). The cache is reused only when what it holds is
 * exactly the start of the new prompt's tokens; otherwise (a template that rewrites earlier turns,
 * a reply cut at a stop string, text that tokenizes differently once written back) the turn starts
 * a fresh cache. With an exact cache every turn so generates what a fresh `generate` over the
 * whole conversation would; a compressing cache carries its memory of earlier turns forward.
 */
export class ChatSession {
  /** The conversation so far: the system message, then user and assistant turns. */
  readonly messages: ChatMessage[] = [];
  private cache: KVCache | undefined;
  /** The token ids the cache holds, in order. */
  private cached = new Int32Array(0);
  private disposed = false;

  constructor(
    private readonly model: LlamaModel,
    private readonly options: ChatSessionOptions = {},
  ) {
    if (!model.tokenizer.hasChatTemplate && options.template?.template === undefined) {
      throw new InvalidConfigError('ChatSession: the model has no chat template; pass one as options.template.template');
    }
    if (options.system !== undefined) this.messages.push({ role: 'system', content: options.system });
  }

  /** Adds a user turn, generates the assistant's reply (appended to `messages`) and returns it. */
  async send(content: string, options: Omit<GenerateOptions, 'cache'> = {}): Promise<ChatReply> {
    if (this.disposed) throw new DisposedError('ChatSession');
    const user: ChatMessage = { role: 'user', content };
    const ids = this.model.tokenizer.encodeChat([...this.messages, user], { ...this.options.template, addGenerationPrompt: true });
    const reusedTokens = this.cached.length > 0 && this.cached.length < ids.length && startsWith(ids, this.cached) ? this.cached.length : 0;
    if (reusedTokens === 0) this.resetCache();
    this.cache ??= this.model.createCache(this.options.cache);
    let result: GenerateResult;
    try {
      result = await generate(this.model, ids.subarray(reusedTokens), { ...options, cache: this.cache });
    } catch (error) {
      this.resetCache(); // what a failed turn left in the cache is unknown
      throw error;
    }
    // The cache holds the prompt and every generated token but the last (sampled, never fed back).
    const held = new Int32Array(ids.length + result.ids.length - 1);
    held.set(ids);
    held.set(result.ids.subarray(0, result.ids.length - 1), ids.length);
    this.cached = held;
    this.messages.push(user, { role: 'assistant', content: result.text });
    return { ...result, reusedTokens };
  }

  /** Lets the cache go; the session cannot send afterwards. */
  dispose(): void {
    this.disposed = true;
    this.resetCache();
  }

  private resetCache(): void {
    this.cache?.dispose();
    this.cache = undefined;
    this.cached = new Int32Array(0);
  }
}

function startsWith(ids: Int32Array, prefix: Int32Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (ids[i] !== prefix[i]) return false;
  return true;
}
