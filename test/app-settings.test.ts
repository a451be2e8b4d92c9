/** The app's settings module: parsed once, every problem reported together, identity or keys chosen by what is set. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadSettings, SettingsError } from '../src/app/settings';

const local = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', COSMOS_ENDPOINT: 'http://127.0.0.1:8081/', COSMOS_KEY: 'a2V5' };

test('local settings: connection string, Cosmos key, defaults, local providers', () => {
  const settings = loadSettings(local);
  assert.deepEqual(settings.storage, { kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true' });
  assert.deepEqual(settings.cosmos, {
    endpoint: 'http://127.0.0.1:8081/',
    database: 'autolabel',
    auth: { kind: 'key', key: 'a2V5' },
    disableEndpointDiscovery: false,
  });
  assert.equal(settings.labeling.scene.provider, 'local');
  assert.equal(settings.labeling.detector.provider, 'onnx');
  assert.equal(settings.nightly.schedule, '0 0 2 * * *');
  assert.equal(settings.evaluation.chunkSize, 100);
  assert.equal(settings.maxLabelAttempts, 5);
});

test('Azure settings: managed identity for storage and Cosmos DB, no keys', () => {
  const settings = loadSettings({
    AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net',
    AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
    AZURE_CLIENT_ID: '1111',
    COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
    AUTOLABEL_CONFIG: JSON.stringify({
      scene: { provider: 'openai', azure: { endpoint: 'https://x.openai.azure.com', deployment: 'gpt-4o' }, auth: { type: 'entra' } },
    }),
  });
  assert.deepEqual(settings.storage, {
    kind: 'identity',
    blobServiceUri: 'https://acct.blob.core.windows.net',
    queueServiceUri: 'https://acct.queue.core.windows.net',
    clientId: '1111',
  });
  assert.deepEqual(settings.cosmos.auth, { kind: 'identity', clientId: '1111' });
  assert.equal(settings.labeling.scene.provider, 'openai');
  assert.equal(settings.labelingSource, 'AUTOLABEL_CONFIG');
});

test('every problem at once: storage, Cosmos endpoint, numbers, schedule and the labeling config', () => {
  try {
    loadSettings({
      COSMOS_ENDPOINT: 'not a url',
      EVALUATION_CHUNK_SIZE: '0',
      NIGHTLY_REPORT_SCHEDULE: '0 2 * * *',
      AUTOLABEL_CONFIG: JSON.stringify({
        scene: { provider: 'openai', baseURL: 'http://x/v1', model: 'm', auth: { type: 'key', apiKeyEnv: 'MISSING_KEY' } },
        thresholds: { default: 2 },
      }),
    });
    assert.fail('expected a SettingsError');
  } catch (error) {
    assert.ok(error instanceof SettingsError);
    const text = error.problems.join('\n');
    assert.match(text, /COSMOS_ENDPOINT/);
    assert.match(text, /EVALUATION_CHUNK_SIZE/);
    assert.match(text, /NIGHTLY_REPORT_SCHEDULE: must be a six-field NCRONTAB/);
    assert.match(text, /AzureWebJobsStorage: set a connection string/);
    assert.match(text, /thresholds\.default/);
    assert.ok(error.problems.length >= 5, text);
  }
});

test('the labeling config from a file; a missing file, bad JSON or both sources are reported', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'settings-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ detector: { provider: 'onnx', tiling: false } }));
  assert.equal(loadSettings({ ...local, AUTOLABEL_CONFIG_FILE: file }).labeling.detector.provider, 'onnx');
  assert.throws(
    () => loadSettings({ ...local, AUTOLABEL_CONFIG_FILE: path.join(dir, 'missing.json') }),
    /cannot read the labeling config file: ENOENT/,
  );
  assert.throws(() => loadSettings({ ...local, AUTOLABEL_CONFIG: '{oops' }), /AUTOLABEL_CONFIG: not valid JSON/);
  assert.throws(() => loadSettings({ ...local, AUTOLABEL_CONFIG: '{}', AUTOLABEL_CONFIG_FILE: file }), /not both/);
});
