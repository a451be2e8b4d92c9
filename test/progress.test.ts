import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress } from '../src/cli/progress';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}

test('on a terminal: one redrawn bar with count, rate, ETA and failures', () => {
  const { writes, stream } = fakeStream(true);
  let clock = 0;
  const progress = createProgress({ label: 'labeling', total: 10, stream, now: () => clock });
  clock = 2000;
  progress.update(4, 1);
  progress.finish();
  assert.ok(writes.every((w) => w.startsWith('\r')));
  assert.match(writes[0]!, /labeling \[#{10}\.{14}\] 4\/10 2\.0\/s, ETA 3s, 1 failed/);
  assert.ok(writes.at(-1)!.endsWith('\n'));
});

test('on a pipe: a plain line every tenth and one at the end, no control characters', () => {
  const { writes, stream } = fakeStream(false);
  let clock = 0;
  const progress = createProgress({ label: 'reading', total: 100, stream, now: () => clock });
  for (let i = 1; i <= 100; i++) {
    clock += 10;
    progress.update(i);
  }
  progress.finish();
  assert.equal(writes.length, 10);
  assert.match(writes[0]!, /^reading: 10\/100 \(10%\), 100\.0\/s, ETA 1s\n$/);
  assert.match(writes.at(-1)!, /^reading: 100\/100 \(100%\)/);
  assert.ok(writes.every((w) => !w.includes('\r') && !w.includes('\u001b')));
});
