// Iterative solvers written once as generators that yield the vectors they need multiplied and
// receive the products back, so the same iteration runs with a synchronous product (host, CPU
// backend) or an asynchronous one (a KernelMatrix on WebGPU / CUDA, read back with await).

/** A solver's iteration: yields a right-hand side, expects its product back; returns the result. */
export type ProductSteps<In, Out, Result> = Generator<In, Result, Out>;

/** Runs the iteration with a synchronous product. */
export function runSteps<In, Out, Result>(steps: ProductSteps<In, Out, Result>, apply: (v: In) => Out): Result {
  let next = steps.next();
  while (!next.done) next = steps.next(apply(next.value));
  return next.value;
}

/** Runs the iteration with an asynchronous product. */
export async function runStepsAsync<In, Out, Result>(steps: ProductSteps<In, Out, Result>, apply: (v: In) => Promise<Out>): Promise<Result> {
  let next = steps.next();
  while (!next.done) next = steps.next(await apply(next.value));
  return next.value;
}
