// One kv-bench worker thread: loads the model once, then measures whichever rows the main thread
// hands it (see parallel.ts). Rows are independent, so they run on separate cores.
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '@kvkit/llm';
import { openBackend, setSimdThreads } from '@kvkit/tensor-core';
import { calibrationContexts } from './calibration.js';
import { withTokenClasses } from './token-classes.js';
import { measureMethod, prepareInputs } from './measure.js';
import { availableMethods, availableStores, parseMethodList } from './methods.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

const port = parentPort!;
const send = (message: FromWorker) => port.postMessage(message);
const setup = workerData as WorkerSetup;

let provideReference: (logProbs: Float32Array[][]) => void = () => {};
const reference = new Promise<Float32Array[][]>((resolve) => {
  provideReference = resolve;
});

async function start(): Promise<void> {
  setSimdThreads(setup.threads);
  const model = await loadModel(setup.modelDir, { backend: await openBackend(setup.backend), halfWeights: setup.halfWeights, configOverrides: setup.configOverrides });
  const methods = await availableMethods();
  const stores = await availableStores();
  const contexts = await withTokenClasses(await calibrationContexts(setup.calibration), model);
  const inputs = prepareInputs(model, setup.text, setup.settings);
  port.on('message', (message: ToWorker) => {
    if (message.type === 'reference') provideReference(message.logProbs);
    else if (message.type === 'exit') {
      model.dispose();
      port.close();
    } else {
      void (async () => {
        const [run] = parseMethodList(message.spec, methods, contexts, stores);
        const { measurement, logProbs } = await measureMethod(model, inputs, run, {
          isReference: message.isReference,
          reference: () => reference,
          onTokens: (tokens) => send({ type: 'progress', label: run.label, tokens }),
        });
        if (logProbs) {
          provideReference(logProbs);
          send({ type: 'reference', logProbs });
        }
        send({ type: 'result', index: message.index, measurement });
        send({ type: 'ready' });
      })().catch(fail);
    }
  });
  send({ type: 'ready' });
}

function fail(error: unknown): void {
  const e = error as { code?: string; message?: string };
  send({ type: 'error', code: e.code, message: e.message ?? String(error) });
}

start().catch(fail);
