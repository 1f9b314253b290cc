import { denseCache } from '@kvkit/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatSession, generate, type LlamaModel, loadModel } from '../src/index.js';
import { expectKvkitError, expectKvkitErrorAsync } from './helpers/errors.js';
import { KVKIT_TINY } from './helpers/fixtures.js';

/** A ChatML-like template for kvkit-tiny (a base model, which has none); its end of text closes each turn. */
const TEMPLATE =
  "{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";
/** One that writes the turns newest first: each prompt is longer than the last, but does not begin with it. */
const NEWEST_FIRST = "{% for m in messages[::-1] %}{{ m.role + ': ' + m.content + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";

describe('ChatSession', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await loadModel(KVKIT_TINY);
  });
  afterAll(() => model.dispose());

  /** A fresh generation over the whole conversation's prompt: what every turn must equal. */
  const fresh = (session: ChatSession, template: string, next: string, maxNewTokens: number) =>
    generate(model, model.tokenizer.encodeChat([...session.messages, { role: 'user', content: next }], { template, addGenerationPrompt: true }), {
      maxNewTokens,
      cache: denseCache({ dtype: 'f32' }),
    });

  it('computes only what the cache does not hold: each turn equals a fresh generation over the whole conversation', async () => {
    const session = new ChatSession(model, { system: 'You are a sailor.', cache: denseCache({ dtype: 'f32' }), template: { template: TEMPLATE } });
    const turns = ['Call me Ishmael.', 'Where is the whale?', 'And the captain?'];
    let held = 0;
    for (const [i, text] of turns.entries()) {
      const expected = await fresh(session, TEMPLATE, text, 10);
      const reply = await session.send(text, { maxNewTokens: 10 });
      expect(Array.from(reply.ids), `turn ${i}`).toEqual(Array.from(expected.ids));
      expect(reply.text).toBe(expected.text);
      // Turn 1 starts the cache; later turns reuse all it holds: the earlier prompts and replies but each reply's last token.
      expect(reply.reusedTokens, `turn ${i}`).toBe(held);
      expect(reply.promptTokens).toBe(expected.promptTokens - held);
      expect(reply.memory.tokens).toBe(expected.promptTokens + reply.generatedTokens - 1);
      held = expected.promptTokens + reply.generatedTokens - 1;
    }
    expect(session.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    session.dispose();
    await expectKvkitErrorAsync(session.send('Hello?'), 'DISPOSED');
  });

  it('starts a fresh cache when the new prompt does not begin with what the cache holds', async () => {
    const session = new ChatSession(model, { cache: denseCache({ dtype: 'f32' }), template: { template: NEWEST_FIRST } });
    await session.send('Call me Ishmael.', { maxNewTokens: 6 });
    const expected = await fresh(session, NEWEST_FIRST, 'Where is the whale?', 6);
    const reply = await session.send('Where is the whale?', { maxNewTokens: 6 });
    expect(reply.reusedTokens).toBe(0);
    expect(Array.from(reply.ids)).toEqual(Array.from(expected.ids));
    expect(reply.memory.tokens).toBe(expected.promptTokens + reply.generatedTokens - 1);
    session.dispose();
  });

  it('needs a chat template, and a failed turn leaves the conversation as it was', async () => {
    expectKvkitError(() => new ChatSession(model), 'INVALID_CONFIG', /the model has no chat template; pass one as options\.template\.template/);
    const session = new ChatSession(model, { template: { template: TEMPLATE } });
    await session.send('Call me Ishmael.', { maxNewTokens: 4 });
    await expectKvkitErrorAsync(session.send('Where is the whale?', { maxNewTokens: 0 }), 'INVALID_CONFIG', /maxNewTokens must be a positive integer/);
    expect(session.messages).toHaveLength(2);
    const expected = await fresh(session, TEMPLATE, 'Where is the whale?', 4);
    const reply = await session.send('Where is the whale?', { maxNewTokens: 4 });
    expect(reply.reusedTokens).toBe(0); // the failed turn dropped the cache
    expect(Array.from(reply.ids)).toEqual(Array.from(expected.ids));
    session.dispose();
  });
});
