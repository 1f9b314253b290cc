import { assertClose } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { boston, everyNth, fixtures, spam } from './datasets.js';

describe('the real data matches what the fixture script read', () => {
  it('records the scikit-learn version that made the fixtures', () => {
    expect(fixtures.meta.sklearn).toBe('1.2.1');
  });

  it('standardizes Boston identically', () => {
    const { x } = boston();
    expect([x.rows, x.cols]).toEqual([506, 13]);
    assertClose(x.data.subarray(0, 13), fixtures.data.bostonFirstRow, 1e-10, 'first row');
  });

  it('computes identical SpamAssassin features', () => {
    const { x, labels } = spam();
    expect(x.rows).toBe(fixtures.data.spamRows);
    expect(labels.reduce((a, b) => a + b, 0)).toBe(fixtures.data.spamLabelsSum);
    const sums = new Float64Array(25);
    for (let i = 0; i < x.rows; i++) for (let j = 0; j < 25; j++) sums[j] += x.data[i * 25 + j];
    assertClose(sums, fixtures.data.spamColumnSums, 1e-10, 'column sums');
    const sub = everyNth(x, 12);
    const subSums = new Float64Array(25);
    for (let i = 0; i < sub.rows; i++) for (let j = 0; j < 25; j++) subSums[j] += sub.data[i * 25 + j];
    assertClose(subSums, fixtures.data.spamSubsetColumnSums, 1e-10, 'subset column sums');
  });
});
