/**
 * The Cosmos DB stand-in narrows a query's documents by its equality conditions before running it
 * (dev/local-host/cosmos-query.ts), as an index would: the answers must be exactly the package's, pages included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { narrowingsOf } from '../dev/local-host/cosmos-query';
import { useLocalServices } from './helpers/local-services';

const services = useLocalServices();

test('only top-level equality conditions on string parameters narrow; a clause with OR or NOT narrows nothing', () => {
  const params = [
    { name: '@b', value: 'batch' },
    { name: '@names', value: ['a', 'b'] },
    { name: '@n', value: 3 },
  ];
  const paths = (query: string) => narrowingsOf(query, params).map((n) => [n.path.join('.'), [...n.values].join('|')]);
  assert.deepEqual(paths('SELECT * FROM c WHERE c.batchId = @b AND ARRAY_CONTAINS(@names, c.name) ORDER BY c.name'), [
    ['batchId', 'batch'],
    ['name', 'a|b'],
  ]);
  assert.deepEqual(paths("SELECT c.name FROM c WHERE c.blob.etag = @b AND c.kind = 'label'"), [['blob.etag', 'batch']]);
  assert.deepEqual(paths('SELECT * FROM c WHERE c.batchId = @b OR c.name = @b'), []);
  assert.deepEqual(paths('SELECT * FROM c WHERE c.batchId = @b AND NOT IS_DEFINED(c.x)'), []);
  assert.deepEqual(paths('SELECT * FROM c WHERE c.count = @n'), [], 'a number parameter does not narrow');
  assert.deepEqual(paths('SELECT * FROM c WHERE x.batchId = @b'), [], 'only the FROM alias');
});

test('narrowed queries answer what the full scan answers, page by page', async () => {
  const client = services().cosmos.createClient();
  const { database } = await client.databases.createIfNotExists({ id: 'query-test' });
  const { container } = await database.containers.createIfNotExists({ id: 'docs', partitionKey: { paths: ['/pk'] } });
  for (let i = 0; i < 60; i++) await container.items.create({ id: `d${i}`, pk: i % 2 ? 'odd' : 'even', name: `n${i % 20}`, i });
  const names = ['n1', 'n3', 'n4', 'n19', 'missing'];
  const narrowed = container.items.query(
    {
      query: 'SELECT * FROM c WHERE c.pk = @pk AND ARRAY_CONTAINS(@names, c.name) ORDER BY c.i',
      parameters: [
        { name: '@pk', value: 'odd' },
        { name: '@names', value: names },
      ],
    },
    { maxItemCount: 2 },
  );
  const pages: number[][] = [];
  while (narrowed.hasMoreResults()) {
    const { resources } = await narrowed.fetchNext();
    if (resources.length) pages.push(resources.map((r) => r.i as number));
  }
  // The same query written so that nothing narrows it (an OR that is always false).
  const { resources: full } = await container.items
    .query({
      query: 'SELECT * FROM c WHERE (c.pk = @pk AND ARRAY_CONTAINS(@names, c.name)) OR c.pk = "nowhere" ORDER BY c.i',
      parameters: [
        { name: '@pk', value: 'odd' },
        { name: '@names', value: names },
      ],
    })
    .fetchAll();
  assert.deepEqual(
    pages.flat(),
    full.map((r) => r.i),
  );
  assert.deepEqual(pages.flat(), [1, 3, 19, 21, 23, 39, 41, 43, 59]);
  assert.ok(pages.every((p) => p.length <= 2) && pages.length >= 4, 'answered in pages of 2');
});
