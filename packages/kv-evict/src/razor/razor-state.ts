import type { RetrievalHeadProfile, RetrievalShares } from './retrieval-heads.js';
import { selectRetrievalHeads } from './retrieval-heads.js';

/**
 * RazorAttention's per-cache state: the echo/induction profile (given, or measured on the prompt by
 * each layer) and, once every layer is profiled, which heads are retrieval heads.
 */
export class RazorState {
  readonly profile: RetrievalHeadProfile;
  private retrieval: boolean[][] | undefined;

  constructor(
    numLayers: number,
    private readonly shares: RetrievalShares,
    given?: RetrievalHeadProfile,
  ) {
    this.profile = given ?? { echo: new Array(numLayers), induction: new Array(numLayers) };
    if (given) this.retrieval = selectRetrievalHeads(given, shares);
  }

  get decided(): boolean {
    return this.retrieval !== undefined;
  }

  /** Records one layer's measured scores (in-context profiling). */
  record(layer: number, head: number, scores: { echo: number; induction: number }): void {
    (this.profile.echo[layer] ??= [])[head] = scores.echo;
    (this.profile.induction[layer] ??= [])[head] = scores.induction;
  }

  /** Chooses the retrieval heads once the whole model has been profiled (idempotent). */
  decide(): void {
    if (this.retrieval) return;
    const complete = this.profile.echo.every((row) => row !== undefined) && this.profile.echo.length > 0;
    if (complete) this.retrieval = selectRetrievalHeads(this.profile, this.shares);
  }

  /** Whether (layer, head) keeps its full cache; undefined before the decision. */
  isRetrieval(layer: number, head: number): boolean | undefined {
    return this.retrieval?.[layer]?.[head];
  }
}
