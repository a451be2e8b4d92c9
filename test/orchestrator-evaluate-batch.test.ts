/**
 * The evaluateBatch orchestrator driven by hand, as the Durable runtime drives it: each yielded task is answered
 * with an activity result (or a failure), so every path is checked without storage. (Its replay through the real
 * SDK engine and the local runner is covered by test/local-durable.test.ts and the end-to-end test.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OrchestrationContext } from 'durable-functions';
import { evaluateBatchOrchestrator, runIdOf } from '../src/app/functions/evaluateBatch';
import { EVALUATION_ACTIVITIES } from '../src/app/functions/evaluationActivityNames';

type Call = { kind: 'activity'; name: string; input: any; retry: boolean } | { kind: 'all'; tasks: Call[] };

function drive(answer: (call: Extract<Call, { kind: 'activity' }>) => unknown) {
  const calls: Array<Extract<Call, { kind: 'activity' }>> = [];
  const statuses: unknown[] = [];
  const now = new Date('2026-11-23T10:20:30.456Z');
  const context = {
    df: {
      getInput: () => ({ batchId: 'b1', reason: 'test' }),
      currentUtcDateTime: now,
      setCustomStatus: (s: unknown) => statuses.push(s),
      callActivity: (name: string, input: unknown): Call => ({ kind: 'activity', name, input, retry: false }),
      callActivityWithRetry: (name: string, _retry: unknown, input: unknown): Call => ({ kind: 'activity', name, input, retry: true }),
      Task: { all: (tasks: Call[]): Call => ({ kind: 'all', tasks }) },
    },
  } as unknown as OrchestrationContext;
  const generator = evaluateBatchOrchestrator(context) as Generator<Call, unknown, unknown>;
  let step = generator.next();
  while (!step.done) {
    const call = step.value;
    try {
      if (call.kind === 'all') {
        const results = call.tasks.map((t) => {
          calls.push(t as Extract<Call, { kind: 'activity' }>);
          return answer(t as Extract<Call, { kind: 'activity' }>);
        });
        step = generator.next(results);
      } else {
        calls.push(call);
        step = generator.next(answer(call));
      }
    } catch (error) {
      step = generator.throw(error);
    }
  }
  return { output: step.value as any, calls, statuses, runId: runIdOf(now) };
}

const plan = { ok: true, planPath: 'b1/run/plan.json', chunkPaths: ['b1/run/chunk-0.json', 'b1/run/chunk-1.json'], images: 150 };

test('plan, one activity per chunk (fan-out), then the report: small inputs, deterministic run id', () => {
  const expectedRunId = '20261123T102030Z';
  const { output, calls, statuses, runId } = drive((call) => {
    if (call.name === EVALUATION_ACTIVITIES.plan) return plan;
    if (call.name === EVALUATION_ACTIVITIES.matchChunk)
      return { ok: true, matchPath: call.input.chunkPath.replace('chunk', 'match'), predictions: 10 };
    if (call.name === EVALUATION_ACTIVITIES.report) return { ok: true, reportId: `b1-${expectedRunId}` };
    throw new Error(`unexpected ${call.name}`);
  });
  assert.equal(runId, expectedRunId);
  assert.deepEqual(
    calls.map((c) => c.name),
    [EVALUATION_ACTIVITIES.plan, EVALUATION_ACTIVITIES.matchChunk, EVALUATION_ACTIVITIES.matchChunk, EVALUATION_ACTIVITIES.report],
  );
  assert.deepEqual(calls[0]!.input, { batchId: 'b1', runId });
  assert.deepEqual(calls[3]!.input.matchPaths, ['b1/run/match-0.json', 'b1/run/match-1.json']);
  assert.equal(calls[3]!.input.createdAt, '2026-11-23T10:20:30.456Z');
  assert.ok(
    calls.every((c) => c.retry),
    'activities retry infrastructure failures',
  );
  assert.ok(
    calls.every((c) => JSON.stringify(c.input).length < 500),
    'inputs are ids and paths',
  );
  assert.deepEqual(output, { ok: true, reportId: `b1-${runId}`, images: 150, chunks: 2 });
  assert.deepEqual((statuses.at(-1) as { stage: string }).stage, 'done');
});

test('a chunk answering {ok: false} fails the evaluation with its reason, recorded on the batch', () => {
  const { output, calls } = drive((call) => {
    if (call.name === EVALUATION_ACTIVITIES.plan) return plan;
    if (call.name === EVALUATION_ACTIVITIES.matchChunk)
      return call.input.chunkPath.endsWith('1.json')
        ? { ok: false, error: 'chunk b1/run/chunk-1.json: bad frame' }
        : { ok: true, matchPath: 'm0' };
    if (call.name === EVALUATION_ACTIVITIES.failed) return { ok: true, status: 'labeled' };
    throw new Error(`unexpected ${call.name}`);
  });
  assert.equal(output.ok, false);
  assert.match(output.error, /1 of 2 chunk\(s\) failed: chunk b1\/run\/chunk-1.json: bad frame/);
  assert.deepEqual(calls.at(-1), {
    kind: 'activity',
    name: EVALUATION_ACTIVITIES.failed,
    input: { batchId: 'b1', error: output.error },
    retry: false,
  });
  assert.ok(!calls.some((c) => c.name === EVALUATION_ACTIVITIES.report), 'no report from partial data');
});

test('a failed plan and an activity that throws after its retries both end in evaluationFailed', () => {
  const planFailed = drive((call) =>
    call.name === EVALUATION_ACTIVITIES.plan ? { ok: false, error: 'batch b1 has no manifest' } : { ok: true },
  );
  assert.deepEqual(planFailed.output, { ok: false, error: 'batch b1 has no manifest' });
  assert.equal(planFailed.calls.at(-1)!.name, EVALUATION_ACTIVITIES.failed);

  const thrown = drive((call) => {
    if (call.name === EVALUATION_ACTIVITIES.plan) throw new Error('storage unreachable');
    return { ok: true };
  });
  assert.deepEqual(thrown.output, { ok: false, error: 'storage unreachable' });
  assert.equal(thrown.calls.at(-1)!.name, EVALUATION_ACTIVITIES.failed);
});
