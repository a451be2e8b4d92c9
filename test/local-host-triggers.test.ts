/** The local host's queue poller and timer: the host's message decoding, retries and poison queue; NCRONTAB schedules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueueServiceClient } from '@azure/storage-queue';
import { encodePoisonMessage } from '../dev/local-host/blob-trigger';
import { decodeQueueMessage, MAX_DEQUEUE_COUNT, startQueueTriggers } from '../dev/local-host/host/queue-trigger';
import { resolveAppSettingExpression, startTimerTriggers } from '../dev/local-host/host/timer-trigger';
import { useLocalServices } from './helpers/local-services';

const services = useLocalServices();

test('queue messages reach the handler decoded (the blob trigger base64 poison message as JSON); failures move to -poison', async () => {
  const queues = QueueServiceClient.fromConnectionString(services().azurite.connectionString);
  const seen: unknown[] = [];
  const ok = { name: 'ok', queueName: 'work-ok', invoke: async (message: unknown) => void seen.push(message) };
  const failing = {
    name: 'bad',
    queueName: 'work-bad',
    invoke: async () => {
      throw new Error('always');
    },
  };
  for (const name of ['work-ok', 'work-bad']) await queues.getQueueClient(name).createIfNotExists();
  const poison = {
    Type: 'BlobTrigger' as const,
    FunctionId: 'Host.Functions.labelImageBlob',
    BlobType: 'BlockBlob',
    ContainerName: 'images',
    BlobName: 'b/x.jpg',
    ETag: '"1"',
  };
  await queues.getQueueClient('work-ok').sendMessage(encodePoisonMessage(poison));
  await queues.getQueueClient('work-bad').sendMessage('{"n":1}');
  const lines: string[] = [];
  const trigger = startQueueTriggers({
    queues,
    functions: [ok, failing],
    pollIntervalMs: 50,
    visibilityTimeoutSeconds: 1,
    log: (l) => lines.push(l),
  });
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !lines.some((l) => l.includes('moved to work-bad-poison')))
      await new Promise((r) => setTimeout(r, 100));
  } finally {
    await trigger.close();
  }
  assert.deepEqual(seen, [poison]);
  assert.equal(lines.filter((l) => /\[bad\] message .* failed/.test(l)).length, MAX_DEQUEUE_COUNT, lines.join('\n'));
  const moved = await queues.getQueueClient('work-bad-poison').receiveMessages();
  assert.equal(moved.receivedMessageItems[0]?.messageText, '{"n":1}');
  assert.equal((await queues.getQueueClient('work-ok').getProperties()).approximateMessagesCount, 0);
  assert.deepEqual(decodeQueueMessage('plain text'), 'plain text');
});

test('timer schedules: %NAME% from the environment (or the default), six-field NCRONTAB in UTC, run on demand', async () => {
  assert.equal(resolveAppSettingExpression('%S%', { S: '0 */5 * * * *' }), '0 */5 * * * *');
  assert.equal(resolveAppSettingExpression('%S%', {}, { S: '0 0 2 * * *' }), '0 0 2 * * *');
  assert.throws(() => resolveAppSettingExpression('%MISSING%', {}), /app setting MISSING/);
  const runs: boolean[] = [];
  const timers = startTimerTriggers({
    functions: [{ name: 'nightly', schedule: '%S%', invoke: async (timer) => void runs.push(timer.isPastDue) }],
    env: { S: '0 30 2 * * *' },
  });
  try {
    const next = new Date(timers.next()['nightly']!);
    assert.equal(next.getUTCHours(), 2);
    assert.equal(next.getUTCMinutes(), 30);
    assert.equal(next.getUTCSeconds(), 0);
    await timers.runNow('nightly');
    assert.deepEqual(runs, [false]);
  } finally {
    await timers.close();
  }
});
