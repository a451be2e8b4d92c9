/**
 * Labels too large for a Cosmos DB item (2 MB, and a transactional batch carries 2 MB in all) become a failure that
 * says so instead of a write the service would refuse on every try (services/label-writes.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_LABEL_DOCUMENT_BYTES, withinDocumentLimit } from '../src/app/services/label-writes';
import { DOCUMENT_SCHEMA_VERSION, LabelDocumentSchema, type LabelDocument } from '../src/app/store/documents';

function labeled(boxes: number): LabelDocument {
  const labels = Array.from({ length: boxes }, (_, i) => ({
    id: String(i + 1),
    category: 'car',
    box2d: { x1: i % 1280, y1: 10.25, x2: (i % 1280) + 20.5, y2: 40.75 },
    score: 0.5,
  }));
  return {
    id: 'a.jpg',
    batchId: 'big',
    name: 'a.jpg',
    kind: 'label',
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    status: 'labeled',
    blob: { path: 'images/big/a.jpg', etag: '"1"', bytes: 1 },
    configHash: 'c',
    attempts: 1,
    frame: { name: 'a.jpg', labels },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

test('a document under the limit is written as it is; one over it becomes a failure that says why', () => {
  const small = labeled(100);
  assert.equal(withinDocumentLimit(small), small);

  const big = labeled(20_000);
  assert.ok(Buffer.byteLength(JSON.stringify(big)) > MAX_LABEL_DOCUMENT_BYTES);
  const stored = LabelDocumentSchema.parse(withinDocumentLimit(big));
  assert.equal(stored.status, 'failed');
  assert.equal(stored.frame, undefined);
  assert.deepEqual([stored.error?.kind, stored.error?.retryable], ['too-large', false]);
  assert.match(stored.error!.message, /a\.jpg \(20000 boxes\) take \d+\.\d MB, over the 1\.9 MB/);
  assert.ok(Buffer.byteLength(JSON.stringify(stored)) < 2_000);
});
