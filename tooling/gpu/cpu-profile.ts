// Where the main thread's time goes during one awaited call, from V8's sampling profiler
// (node:inspector): the time it waits (on the device, a worker: wall time the samples do not
// cover), and the functions with the most self time. For a fit that is slow on the GPU
// for reasons the GPU timers cannot show (host algebra, launches, readbacks).
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Runs `body` under the sampling profiler (100 µs interval); returns its result and a text summary. */
export async function profiled<T>(title: string, body: () => Promise<T>, top = 25): Promise<{ value: T; summary: string }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const started = performance.now();
    const value = await body();
    const wallMs = performance.now() - started;
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
    return { value, summary: summarize(title, profile, wallMs, top) };
  } finally {
    session.disconnect();
  }
}

/** Self time per function (name, file, line), largest first, with each one's share of the samples. */
function summarize(title: string, profile: Profile, wallMs: number, top: number): string {
  const byNode = new Map<number, number>();
  // Sample i lasted until sample i + 1 (the first delta counts from the profiler's start, not a sample).
  profile.samples.forEach((id, i) => {
    if (i + 1 < profile.samples.length) byNode.set(id, (byNode.get(id) ?? 0) + profile.timeDeltas[i + 1]);
  });
  const bySite = new Map<string, number>();
  let totalUs = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const site = `${functionName || '(anonymous)'} ${url.split('/').pop() ?? ''}${url ? `:${lineNumber + 1}` : ''}`;
    bySite.set(site, (bySite.get(site) ?? 0) + us);
    totalUs += us;
  }
  // Samples taken while the thread waits in the event loop (on the device, a worker) are not recorded here.
  const lines = [
    `${title}: ${wallMs.toFixed(1)} ms wall, ${(totalUs / 1000).toFixed(1)} ms running on the main thread (self time below), ` +
      `${Math.max(0, wallMs - totalUs / 1000).toFixed(1)} ms waiting`,
  ];
  for (const [site, us] of [...bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / Math.max(totalUs, 1)).toFixed(1).padStart(5)}%  ${site}`);
  }
  return lines.join('\n');
}
