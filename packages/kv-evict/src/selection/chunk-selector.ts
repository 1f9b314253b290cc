import { markProtected, type Protection } from './protection.js';
import type { SelectorFactory } from './selector.js';
import { indicesOf } from './top-k.js';

/** Kept positions per layer and head, shared by ChunkKV's layers for index reuse. */
export type KeptPositions = Map<number, Set<number>[]>;

/**
 * ChunkKV's selection (Liu et al., 2025): tokens are grouped into chunks of `chunk` consecutive
 * positions; a chunk's score is the sum of its tokens' scores, and whole chunks are kept best first
 * while they fit the budget (what a partial chunk would need stays unused). Protected tokens are
 * kept on their own. With `reuse` > 1, layers come in groups of `reuse`: the first layer of a group
 * selects and the others keep the same positions (layer-wise index reuse; they need no scores).
 */
export function chunkSelector(chunk: number, protection: Protection, reuse: number, kept: KeptPositions): SelectorFactory {
  return (layer) => {
    const source = layer.layerIndex - (layer.layerIndex % reuse);
    const follower = source !== layer.layerIndex;
    return {
      name: follower ? `chunk-reuse(layer ${source})` : 'chunk',
      select: (context) => {
        const count = context.positions.length;
        if (context.budget >= count) return Int32Array.from({ length: count }, (_, i) => i);
        const marks = new Uint8Array(count);
        let used = markProtected(count, context.budget, protection, marks);
        const reused = follower ? kept.get(source)?.[context.head] : undefined;
        if (reused) {
          // Newest first, so a shortfall of budget drops the oldest reused tokens.
          for (let j = count - 1; j >= 0 && used < context.budget; j--) {
            if (!marks[j] && reused.has(context.positions[j])) {
              marks[j] = 1;
              used++;
            }
          }
        } else {
          const chunks = new Map<number, { score: number; members: number[] }>();
          for (let j = 0; j < count; j++) {
            if (marks[j]) continue;
            const id = Math.floor(context.positions[j] / chunk);
            const entry = chunks.get(id) ?? { score: 0, members: [] };
            entry.score += context.scores[j];
            entry.members.push(j);
            chunks.set(id, entry);
          }
          const ranked = [...chunks.entries()].sort((a, b) => b[1].score - a[1].score || b[0] - a[0]);
          for (const [, entry] of ranked) {
            if (used + entry.members.length > context.budget) continue;
            for (const j of entry.members) marks[j] = 1;
            used += entry.members.length;
          }
        }
        const keep = indicesOf(marks, used);
        if (!follower) {
          const heads = kept.get(layer.layerIndex) ?? [];
          heads[context.head] = new Set(Array.from(keep, (i) => context.positions[i]));
          kept.set(layer.layerIndex, heads);
        }
        return keep;
      },
    };
  };
}
