/**
 * A scene model trained with `autolabel train-scene` and kept in the app's own storage account: AUTOLABEL_CONFIG
 * names it `blob:<container>/<name>`, the app reads it through its blob client (Azurite here) and the labeled
 * frame's provenance names that blob and the sha256 of what was read. A missing blob is an error that says which.
 */
import { invocationContext } from './helpers/app';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { ensureResources } from '../src/app/clients';
import { postLabels } from '../src/app/functions/postLabels';
import { createRuntime, setAppRuntime } from '../src/app/runtime';
import { useLocalServices } from './helpers/local-services';
import { sampleImagesDir, sharedDir } from './helpers/shared';

const services = useLocalServices();

const IMAGE = '0798a3a8-c4501e0f.jpg';
const imageBytes = readFileSync(path.join(sampleImagesDir, IMAGE));
// A real model file: the committed parameters with a version of their own, as train-scene would write another one.
const committed = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'src', 'adapters', 'providers', 'scene', 'local', 'scene-model.json'), 'utf8'),
) as { version: string };
const modelText = JSON.stringify({ ...committed, version: `${committed.version}-blob` });

after(() => setAppRuntime(undefined));

async function label(model: string): Promise<{ status: number; body: any; logs: string[] }> {
  const app = createRuntime({
    env: {
      ...services().env(),
      AUTOLABEL_MODELS_DIR: path.join(sharedDir, 'models'),
      AUTOLABEL_LOCAL_WORKERS: '1',
      AUTOLABEL_CONFIG: JSON.stringify({ scene: { provider: 'local', model }, detector: { provider: 'none' } }),
    },
  });
  await ensureResources(app.clients, app.settings.cosmos.database);
  await setAppRuntime(app);
  const logs: string[] = [];
  const request = new HttpRequest({
    method: 'POST',
    url: `http://localhost:7071/api/labels?name=${IMAGE}`,
    query: { name: IMAGE },
    body: { bytes: imageBytes },
  });
  const result: HttpResponseInit | HttpResponse = await postLabels(request, invocationContext('postLabels', {}, logs));
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const text = Buffer.from(await response.arrayBuffer()).toString('utf8');
  return { status: response.status, body: JSON.parse(text), logs };
}

test('AUTOLABEL_CONFIG scene.model "blob:<container>/<name>": read from the app storage, named in provenance', async () => {
  const container = BlobServiceClient.fromConnectionString(services().env().AZURE_STORAGE_CONNECTION_STRING).getContainerClient('models');
  await container.createIfNotExists();
  await container.getBlockBlobClient('scenes/mine.json').upload(modelText, Buffer.byteLength(modelText));

  const answer = await label('blob:models/scenes/mine.json');
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const scene = answer.body.provenance.scene;
  assert.deepEqual(scene.file, { path: 'blob:models/scenes/mine.json', sha256: createHash('sha256').update(modelText).digest('hex') });
  assert.equal(scene.model, `mobilenetv2-int8+logreg@${committed.version}-blob`);
  for (const attribute of ['weather', 'timeofday', 'scene']) assert.equal(typeof answer.body.attributes[attribute], 'string');
});

test('a scene model blob that is not there: an error naming it, no frame', async () => {
  const answer = await label('blob:models/scenes/missing.json');
  assert.ok(answer.status >= 500, `status ${answer.status}`);
  const said = [JSON.stringify(answer.body), ...answer.logs].join('\n');
  assert.match(said, /models\/scenes\/missing\.json/);
  assert.equal(answer.body.provenance, undefined);
});
