/**
 * The Cosmos DB stand-in's transactional batch (dev/local-host/cosmos-transactional-batch.ts) behaves as Azure's,
 * through the real SDK: all or nothing, Patch included, failures answered per operation (424 for the others); and
 * its request log (cosmos-request-log.ts) describes what each request did and what it would have cost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, OperationInput } from '@azure/cosmos';
import type { CosmosRequestRecord } from '../dev/local-host/cosmos-request-log';
import { pointReadRu, writeSizeRu } from '../dev/local-host/cosmos-ru-model';
import { useLocalServices } from './helpers/local-services';

const services = useLocalServices();

async function container(id: string): Promise<Container> {
  const client = services().cosmos.createClient();
  const { database } = await client.databases.createIfNotExists({ id: 'batch-test' });
  const { container } = await database.containers.createIfNotExists({ id, partitionKey: { paths: ['/pk'] } });
  return container;
}

test('a batch applies every operation, Patch included, and answers each result', async () => {
  const c = await container('ok');
  await c.items.create({ id: 'counter', pk: 'p', n: 1 });
  const { result = [] } = await c.items.batch(
    [
      { operationType: 'Create', resourceBody: { id: 'a', pk: 'p', v: 1 } },
      { operationType: 'Patch', id: 'counter', resourceBody: { operations: [{ op: 'incr', path: '/n', value: 2 }] } },
    ] as OperationInput[],
    'p',
  );
  assert.deepEqual(
    result.map((r) => r.statusCode),
    [201, 200],
  );
  assert.equal(result[1]!.resourceBody?.n, 3, 'the patched document comes back');
  assert.equal((await c.item('a', 'p').read()).resource?.v, 1);
});

test('when one operation fails, the ones before it are undone exactly and the others answer 424', async () => {
  const c = await container('rollback');
  await c.items.create({ id: 'doc', pk: 'p', v: 1 });
  await c.items.create({ id: 'counter', pk: 'p', n: 0 });
  const before = (await c.item('doc', 'p').read()).resource!;

  // The write succeeds, the patch of a missing document fails: the write is rolled back, etag and all.
  const missing = await c.items.batch(
    [
      { operationType: 'Replace', id: 'doc', ifMatch: before._etag, resourceBody: { id: 'doc', pk: 'p', v: 2 } },
      { operationType: 'Create', resourceBody: { id: 'new', pk: 'p' } },
      { operationType: 'Patch', id: 'nowhere', resourceBody: { operations: [{ op: 'incr', path: '/n', value: 1 }] } },
    ] as OperationInput[],
    'p',
  );
  assert.deepEqual(
    missing.result!.map((r) => r.statusCode),
    [424, 424, 404],
  );
  const after = (await c.item('doc', 'p').read()).resource!;
  assert.deepEqual([after.v, after._etag, after._ts], [1, before._etag, before._ts]);
  assert.equal((await c.item('new', 'p').read()).resource, undefined, 'the create is undone');

  // A stale IfMatch first: nothing after it runs.
  const stale = await c.items.batch(
    [
      { operationType: 'Replace', id: 'doc', ifMatch: '"stale"', resourceBody: { id: 'doc', pk: 'p', v: 3 } },
      { operationType: 'Patch', id: 'counter', resourceBody: { operations: [{ op: 'incr', path: '/n', value: 1 }] } },
    ] as OperationInput[],
    'p',
  );
  assert.deepEqual(
    stale.result!.map((r) => r.statusCode),
    [412, 424],
  );
  assert.equal((await c.item('counter', 'p').read()).resource?.n, 0);
});

test('the request log says what each request did, with the estimated charge the response carries', async () => {
  const c = await container('logged');
  const records: CosmosRequestRecord[] = [];
  const stop = services().cosmos.onRequest((r) => records.push(r));
  try {
    const created = await c.items.create({ id: 'a', pk: 'p', kind: 'label', status: 'labeled' });
    await c.items.create({ id: 'b', pk: 'p', kind: 'label', status: 'failed' });
    const read = await c.item('a', 'p').read();
    const count = await c.items
      .query<number>({
        query: 'SELECT VALUE COUNT(1) FROM c WHERE c.pk = @pk AND c.kind = @kind',
        parameters: [
          { name: '@pk', value: 'p' },
          { name: '@kind', value: 'label' },
        ],
      })
      .fetchAll();
    await c
      .item('a', 'p')
      .replace({ id: 'a', pk: 'p', kind: 'label', status: 'failed' }, { accessCondition: { type: 'IfMatch', condition: '"old"' } })
      .catch(() => undefined);
    assert.equal(count.resources[0], 2);

    const byKind = (kind: string) => records.filter((r) => r.kind === kind && r.container === 'logged');
    const [create] = byKind('create');
    assert.equal(create!.documents[0]!.kind, 'label');
    assert.ok(create!.ru >= writeSizeRu(0), `a create costs at least the 1 KB write (${create!.ru})`);
    assert.equal(created.requestCharge, Number(create!.ru.toFixed(2)), 'the charge header carries the estimate');
    assert.equal(byKind('read')[0]!.ru, pointReadRu(0));
    assert.equal(read.requestCharge, pointReadRu(0));
    const [query] = byKind('query');
    assert.deepEqual([query!.rows, query!.aggregatedEntries], [1, 2]);
    const [failed] = byKind('replace');
    assert.equal(failed!.status, 412);
  } finally {
    stop();
  }
});
