/**
 * `parts` consecutive ranges [from, to) of the indices 0 ≤ i < count with about equal total work
 * (`work(i)` each; 1 by default): an index goes to the range that holds the larger half of it, so
 * each boundary lies within half an index's work of its share. How a job's row blocks are split
 * among worker threads (`SimdArena.run`); ranges may be empty when there are fewer indices than parts.
 */
export function balancedRanges(count: number, parts: number, work: (index: number) => number = () => 1): Array<[number, number]> {
  let total = 0;
  for (let i = 0; i < count; i++) total += work(i);
  const ranges: Array<[number, number]> = [];
  let i = 0;
  let done = 0;
  for (let part = 1; part <= parts; part++) {
    const from = i;
    const share = (total * part) / parts;
    while (i < count && (part === parts || done + work(i) / 2 < share)) done += work(i++);
    ranges.push([from, i]);
  }
  return ranges;
}
