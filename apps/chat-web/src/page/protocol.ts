/** What the page asks the generation worker for. */
export type PageRequest =
  | {
      type: 'run';
      backend: 'cpu' | 'webgpu';
      dtype: 'f32' | 'f16';
      method: string;
      prompt: string;
      /** Send the text as the next user turn of the conversation, through the model's chat template (where it has one). */
      chat: boolean;
      maxNewTokens: number;
      temperature: number;
    }
  | { type: 'stop' }
  /** Forget the conversation (and its cache): the next chat turn starts a new one. */
  | { type: 'new-conversation' };

/** What a run measured: shown as a table, and kept as JSON on the page for scripts and tests. */
export interface RunStats {
  backend: string;
  /** Threads the CPU backend's SIMD kernels use (1 on WebGPU, whose work is on the device). */
  threads: number;
  weights: 'f32' | 'f16';
  /** The dtype the weight matrices are kept in (f16 on the CPU in f32: the checkpoint's, read as stored). */
  matrices: string;
  weightBytes: number;
  method: string;
  /** How the text became the prompt: as is, or as a user turn written by the model's chat template. */
  promptFormat: 'text' | 'chat template';
  /** The turn's number in its conversation (1 for the first; 0 for a text prompt). */
  turn: number;
  /** Prompt tokens read from the conversation's cache instead of computed (`promptTokens` counts those computed). */
  reusedTokens: number;
  promptTokens: number;
  generatedTokens: number;
  stopReason: string;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  kvBytes: number;
  /** K and V of the same tokens in f16, every token kept (plus a hybrid model's recurrent state, which nothing compresses). */
  kvBytesF16: number;
  parts: Record<string, number>;
  ids: number[];
}

/** A cache method as the page lists it: its spec name and a help text. */
export interface MethodHelp {
  name: string;
  help: string;
}

/** What the worker reports: its methods once at start, then what a run does. */
export type WorkerMessage =
  | { type: 'methods'; methods: MethodHelp[] }
  | { type: 'status'; text: string }
  | { type: 'token'; text: string }
  | { type: 'done'; stats: RunStats }
  | { type: 'error'; code: string; message: string };
