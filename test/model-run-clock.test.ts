/**
 * The model-run clock (src/adapters/providers/models/run-clock.ts) that benchmarks split an image's CPU time with:
 * the thread's CPU time across a call, not the wall time, and nothing measured while it is off.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meteredRun, meterModelRuns, takeModelRunTime, threadCpuMs } from '../src/adapters/providers/models/run-clock';

const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the thread clock counts this thread on a CPU: a busy loop, not a sleep', { skip: process.platform !== 'linux' }, async () => {
  const busy: Array<{ thread: number; process: number }> = [];
  const idle: number[] = [];
  for (let i = 0; i < 5; i++) {
    const a = threadCpuMs()!;
    const p0 = process.cpuUsage();
    spin(20);
    const b = threadCpuMs()!;
    const p1 = process.cpuUsage(p0);
    await sleep(20);
    const c = threadCpuMs()!;
    busy.push({ thread: b - a, process: (p1.user + p1.system) / 1000 });
    idle.push(c - b);
  }
  // A loaded machine may give the loop only part of a core, and other threads of the process (GC, the compiler) add
  // to its clock now and then: the thread clock must match what the process got in the quietest of the spans.
  const best = busy.reduce((x, y) => (Math.abs(y.thread - y.process) < Math.abs(x.thread - x.process) ? y : x));
  const shown = busy.map((v) => `${v.thread.toFixed(2)}/${v.process.toFixed(2)}`).join(', ');
  assert.ok(best.process > 5, `the loops never got a core: thread/process ms ${shown}`);
  assert.ok(Math.abs(best.thread - best.process) < Math.max(2, 0.15 * best.process), `thread/process ms: ${shown}`);
  assert.ok(Math.min(...idle) < 2, `sleeps: ${idle.map((v) => v.toFixed(2)).join(', ')} ms`);
});

test('meteredRun adds up runs, wall and CPU time only while metering is on; take resets', async () => {
  takeModelRunTime();
  await meteredRun(async () => spin(5));
  const off = takeModelRunTime();
  assert.deepEqual([off.runs, off.wallMs, off.cpuMs ?? 0], [0, 0, 0], 'off: nothing');
  const cpuAvailable = meterModelRuns(true);
  assert.equal(cpuAvailable, process.platform === 'linux');
  try {
    assert.equal(await meteredRun(async () => (spin(10), 'result')), 'result');
    await meteredRun(async () => sleep(10));
    await assert.rejects(
      meteredRun(async () => Promise.reject(new Error('failed run'))),
      /failed run/,
    );
    const taken = takeModelRunTime();
    assert.equal(taken.runs, 3, 'a failed run counts too');
    assert.ok(taken.wallMs >= 20, `wall ${taken.wallMs}`);
    if (cpuAvailable) assert.ok(taken.cpuMs! >= 8 && taken.cpuMs! < taken.wallMs, `cpu ${taken.cpuMs}, wall ${taken.wallMs}`);
    // The thread's whole clock is read at each take and is not reset: work outside the runs shows in its growth.
    if (cpuAvailable) assert.ok(taken.threadCpuMs! >= taken.cpuMs!, `thread ${taken.threadCpuMs}, in runs ${taken.cpuMs}`);
    spin(10);
    const next = takeModelRunTime();
    assert.equal(next.runs, 0);
    if (cpuAvailable)
      assert.ok(next.threadCpuMs! - taken.threadCpuMs! >= 2, `outside the runs: ${next.threadCpuMs! - taken.threadCpuMs!} ms`);
    else assert.equal(next.threadCpuMs, undefined);
  } finally {
    meterModelRuns(false);
  }
});
