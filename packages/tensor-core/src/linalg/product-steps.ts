// Iterative algorithms written once as generators that yield the products they need and receive
// them back, so the same iteration runs with a synchronous product (host, CPU backend) or an
// asynchronous one (an operator on WebGPU / CUDA, read back with await).

/** An iteration: yields a request, expects its product back; returns the result. */
export type ProductSteps<In, Out, Result> = Generator<In, Result, Out>;

/** Runs the iteration with a synchronous product. */
export function runSteps<In, Out, Result>(steps: ProductSteps<In, Out, Result>, apply: (request: In) => Out): Result {
  let next = steps.next();
  while (!next.done) next = steps.next(apply(next.value));
  return next.value;
}

/** Runs the iteration with an asynchronous product. */
export async function runStepsAsync<In, Out, Result>(steps: ProductSteps<In, Out, Result>, apply: (request: In) => Promise<Out>): Promise<Result> {
  let next = steps.next();
  while (!next.done) next = steps.next(await apply(next.value));
  return next.value;
}
