import type { HeadView, TokenStore, TokenStoreFactory } from '@kvkit/tensor-core';

/**
 * The same store with codes hidden from its views: attention then reads the dequantized rows, as it
 * did before kernels read a quantized store's codes in place (the baseline of the tests and the
 * evict + quantize benchmark).
 */
export function dequantizingViews(factory: TokenStoreFactory): TokenStoreFactory {
  return (storeSpec) => {
    const store = factory(storeSpec);
    const view = (head: number): HeadView => {
      const inner = store.view(head);
      return { keys: inner.keys, values: inner.values, positions: inner.positions, dispose: () => inner.dispose() };
    };
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'view') return view;
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as TokenStore;
  };
}
