/**
 * infra/hooks/postdeploy.sh run for real with `sh`, against a stand-in `az` on PATH that answers like the Azure CLI
 * (the blobs_extension key appears only after a few polls, as it does while the host starts) and records every call.
 * Checks what the hook sends to Event Grid: the webhook of Host.Functions.labelImageBlob on the app's own host name,
 * BlobCreated only, under images/. (The PowerShell twin is only checked as text in deploy-settings.test.ts: no pwsh
 * here.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const HOOK = path.resolve(__dirname, '..', 'infra', 'hooks', 'postdeploy.sh');
const STORAGE_ID = '/subscriptions/0000/resourceGroups/rg-dev/providers/Microsoft.Storage/storageAccounts/stabc';
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface HookRun {
  status: number | null;
  output: string;
  /** One array of arguments per `az` call. */
  azCalls: string[][];
  sleeps: number;
}

/** Runs the hook with a stand-in `az` whose key list answers empty `keyAfter` times, and a `sleep` that only counts. */
function runHook(options: { keyAfter: number; hostName?: string; env?: NodeJS.ProcessEnv }): HookRun {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postdeploy-'));
  dirs.push(dir);
  const calls = path.join(dir, 'az-calls');
  const polls = path.join(dir, 'polls');
  const sleeps = path.join(dir, 'sleeps');
  writeFileSync(polls, '0');
  writeFileSync(calls, '');
  writeFileSync(sleeps, '');
  const az = `#!/bin/sh
# One line per call: the arguments separated by a unit separator.
(for a in "$@"; do printf '%s\\037' "$a"; done; printf '\\n') >> "${calls}"
case "$1 $2 $3" in
  "functionapp keys list")
    n=$(cat "${polls}"); n=$((n + 1)); echo "$n" > "${polls}"
    if [ "$n" -gt ${options.keyAfter} ]; then echo "blobs-key-123"; fi ;;
  "functionapp show --name") echo "${options.hostName ?? 'func-abc.azurewebsites.net'}" ;;
  "eventgrid system-topic event-subscription") ;;
  *) echo "unexpected az call: $*" >&2; exit 2 ;;
esac
`;
  writeFileSync(path.join(dir, 'az'), az);
  writeFileSync(path.join(dir, 'sleep'), `#!/bin/sh\necho "$1" >> "${sleeps}"\n`);
  chmodSync(path.join(dir, 'az'), 0o755);
  chmodSync(path.join(dir, 'sleep'), 0o755);
  const result = spawnSync('sh', [HOOK], {
    encoding: 'utf8',
    env: {
      PATH: `${dir}:/usr/bin:/bin`,
      AZURE_RESOURCE_GROUP: 'rg-dev',
      AZURE_FUNCTION_APP_NAME: 'func-abc',
      AZURE_EVENTGRID_SYSTEM_TOPIC_NAME: 'evgt-images-abc',
      IMAGES_CONTAINER_NAME: 'images',
      BLOB_TRIGGER_FUNCTION_NAME: 'labelImageBlob',
      AZURE_STORAGE_ACCOUNT_ID: STORAGE_ID,
      ...options.env,
    },
  });
  const azCalls = readFileSync(calls, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\x1f').slice(0, -1));
  return {
    status: result.status,
    output: `${result.stdout}${result.stderr}`,
    azCalls,
    sleeps: readFileSync(sleeps, 'utf8').split('\n').filter(Boolean).length,
  };
}

function argument(call: string[], flag: string): string | undefined {
  const at = call.indexOf(flag);
  return at < 0 ? undefined : call[at + 1];
}

test("postdeploy.sh waits for the blobs_extension key, then subscribes the blob webhook on the app's host name", () => {
  const run = runHook({ keyAfter: 2, hostName: 'func-abc-h3c9dxe2.swedencentral-01.azurewebsites.net' });
  assert.equal(run.status, 0, run.output);
  assert.equal(run.azCalls.filter((c) => c.slice(0, 3).join(' ') === 'functionapp keys list').length, 3, 'two empty answers, then the key');
  assert.equal(run.sleeps, 2);
  const create = run.azCalls.find((c) => c.slice(0, 4).join(' ') === 'eventgrid system-topic event-subscription create');
  assert.ok(create, JSON.stringify(run.azCalls));
  assert.equal(argument(create, '--system-topic-name'), 'evgt-images-abc');
  assert.equal(argument(create, '--resource-group'), 'rg-dev');
  assert.equal(argument(create, '--endpoint-type'), 'webhook');
  assert.equal(
    argument(create, '--endpoint'),
    'https://func-abc-h3c9dxe2.swedencentral-01.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.labelImageBlob&code=blobs-key-123',
  );
  assert.equal(argument(create, '--included-event-types'), 'Microsoft.Storage.BlobCreated');
  assert.equal(argument(create, '--subject-begins-with'), '/blobServices/default/containers/images/');
  assert.equal(argument(create, '--name'), 'labelImageBlob-blob-created');
  // Undeliverable events are dead-lettered (as the topic's identity) for the sweep to replay, not dropped.
  assert.equal(argument(create, '--max-delivery-attempts'), '30');
  assert.equal(argument(create, '--event-ttl'), '1440');
  assert.equal(argument(create, '--deadletter-identity'), 'systemassigned');
  assert.equal(argument(create, '--deadletter-identity-endpoint'), `${STORAGE_ID}/blobServices/default/containers/eventgrid-deadletter`);
});

test('postdeploy.sh fails clearly when the key never appears, and when the environment is missing', () => {
  const never = runHook({ keyAfter: 99 });
  assert.equal(never.status, 1);
  assert.match(never.output, /no blobs_extension key on func-abc/);
  assert.equal(never.sleeps, 12);
  assert.ok(!never.azCalls.some((c) => c[0] === 'eventgrid'), 'no subscription without a key');

  const unset = runHook({ keyAfter: 0, env: { AZURE_EVENTGRID_SYSTEM_TOPIC_NAME: '' } });
  assert.notEqual(unset.status, 0);
  assert.match(unset.output, /AZURE_EVENTGRID_SYSTEM_TOPIC_NAME is not set/);
  assert.equal(unset.azCalls.length, 0);

  const noStorage = runHook({ keyAfter: 0, env: { AZURE_STORAGE_ACCOUNT_ID: '' } });
  assert.notEqual(noStorage.status, 0);
  assert.match(noStorage.output, /AZURE_STORAGE_ACCOUNT_ID is not set/);
  assert.ok(!noStorage.azCalls.some((c) => c[0] === 'eventgrid'), 'no subscription without its dead-letter destination');
});
