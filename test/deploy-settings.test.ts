/**
 * The deployment's configuration agrees with the code: every setting the app reads is provided (Bicep app settings
 * in Azure, local.settings.sample.json locally) or deliberately left out for a stated reason; every provided setting
 * is read by someone (the app, or the Functions host: listed below); %NAME% placeholders resolve in both; the
 * containers of src/app/store/names.ts exist in the Bicep; the Event Grid hook subscribes the blob function that is
 * registered; azure.yaml's hooks exist; the AUTOLABEL_CONFIG the Bicep builds parses as a labeling config.
 * Each check is a pure function of file texts, run on the real files and on mutated copies (so each can fail).
 * Bicep cannot be compiled here: these checks read the templates as text, in the shape the templates keep.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { registrations } from '../src/app/registry';
import { loadSettings, SETTING_NAMES } from '../src/app/settings';
import { resolveLocalWorkers } from '../src/adapters/providers/local-workers';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS, QUEUES } from '../src/app/store/names';
import { MAX_DEQUEUE_COUNT } from '../src/app/functions/labelImageQueue';
import { HOST_MAX_ATTEMPTS } from '../dev/local-host/blob-trigger/host-names';
import '../src/app/functions';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

// ------------------------------------------------------------------------------------------------ the decisions

/**
 * Settings the Functions host reads (not the app's code), so Bicep/local may set them although SETTING_NAMES does
 * not list them. Some are also read by the app (then they are in SETTING_NAMES as well).
 */
const HOST_READ: Record<string, string> = {
  // Chooses the Node worker. Local only: Flex Consumption takes the runtime from functionAppConfig and rejects it.
  FUNCTIONS_WORKER_RUNTIME: 'language worker',
  // The host's storage connection (triggers, Durable task hub, timer locks); the app shares it.
  AzureWebJobsStorage: 'host storage (connection string, local)',
  AzureWebJobsStorage__blobServiceUri: 'host storage (identity): blobs',
  AzureWebJobsStorage__queueServiceUri: 'host storage (identity): queues (poison queue, Durable)',
  AzureWebJobsStorage__tableServiceUri: 'host storage (identity): tables (Durable task hub)',
  AzureWebJobsStorage__credential: 'host storage (identity): managedidentity',
  AzureWebJobsStorage__clientId: 'host storage (identity): which user-assigned identity',
  // Telemetry; with local auth off on Application Insights, the second makes the host sign in with the identity.
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'Application Insights',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Application Insights (Entra auth)',
  // host.json extensions.durableTask.hubName is %TASK_HUB_NAME%.
  TASK_HUB_NAME: 'host.json %TASK_HUB_NAME%',
  // The timer trigger's schedule is %NIGHTLY_REPORT_SCHEDULE% (the app reads it too).
  NIGHTLY_REPORT_SCHEDULE: 'timer schedule %NIGHTLY_REPORT_SCHEDULE%',
};

/** Settings the app's code reads outside SETTING_NAMES, with the file that reads them (checked). */
const READ_BY_CODE_ELSEWHERE: Record<string, string> = {
  // Where local model files are downloaded; in Azure the instance's /tmp (the package folder is read-only).
  AUTOLABEL_CACHE_DIR: 'src/adapters/providers/models/model-files.ts',
};

/** SETTING_NAMES that Azure (the Bicep app settings) leaves unset on purpose. */
const AZURE_OMITTED: Record<string, string> = {
  AzureWebJobsStorage: 'identity-based in Azure: the __blobServiceUri/__queueServiceUri settings replace the connection string',
  COSMOS_KEY: 'keys are disabled on the Cosmos DB account: the managed identity signs in',
  COSMOS_DISABLE_ENDPOINT_DISCOVERY: 'only for the local Cosmos DB stand-in, which advertises unreachable locations',
  AUTOLABEL_CONFIG_FILE: 'Azure sets AUTOLABEL_CONFIG (inline); the two are exclusive',
  AUTOLABEL_MODELS_DIR: 'the package carries no model files: they are downloaded into AUTOLABEL_CACHE_DIR on first use',
};

/** SETTING_NAMES that local.settings.sample.json leaves unset on purpose. */
const LOCAL_OMITTED: Record<string, string> = {
  AzureWebJobsStorage__blobServiceUri: 'locally the Azurite connection string (AzureWebJobsStorage) is used',
  AzureWebJobsStorage__queueServiceUri: 'locally the Azurite connection string (AzureWebJobsStorage) is used',
  AzureWebJobsStorage__clientId: 'a user-assigned managed identity exists only in Azure',
  AZURE_CLIENT_ID: 'a user-assigned managed identity exists only in Azure (locally DefaultAzureCredential uses az login)',
  AUTOLABEL_CONFIG_FILE: 'the sample sets AUTOLABEL_CONFIG (inline); the two are exclusive',
  AUTOLABEL_LOCAL_WORKERS: 'the default (one worker per core) suits a workstation',
};

/** SETTING_NAMES that neither provides: alternatives to a provided setting. */
const ALTERNATIVES: Record<string, string> = {
  AUTOLABEL_CONFIG_FILE: 'alternative to AUTOLABEL_CONFIG (a file instead of inline JSON)',
};

/** App settings Flex Consumption rejects or ignores (the runtime and scale live in functionAppConfig). */
const FLEX_UNSUPPORTED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
];

// ------------------------------------------------------------------------------------------------ Bicep as text

/** Index just past the string starting at `start` (a `'`), honouring escapes and ${...} interpolations. */
function skipString(text: string, start: number): number {
  if (text.startsWith("'''", start)) {
    const end = text.indexOf("'''", start + 3);
    if (end < 0) throw new Error('unterminated multi-line string');
    return end + 3;
  }
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === "'") return i + 1;
    else if (c === '$' && text[i + 1] === '{') i = skipBalanced(text, i + 1);
    else i++;
  }
  throw new Error('unterminated string');
}

/** Index just past the bracket group opening at `open` (`{`, `[` or `(`), skipping strings and comments. */
function skipBalanced(text: string, open: number): number {
  const closers: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: string[] = [];
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i) + 2;
      continue;
    }
    if (closers[c]) stack.push(closers[c]);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (!stack.length) return i + 1;
    }
    i++;
  }
  throw new Error(`unbalanced bracket at ${open}`);
}

/** Text with comments blanked out (strings kept), so a commented-out line never counts. */
function withoutComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === "'") {
      const end = skipString(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (text.startsWith('//', i)) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol;
    } else if (text.startsWith('/*', i)) {
      i = text.indexOf('*/', i) + 2;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** Top-level `key: value` entries of the Bicep object literal `{...}` (one entry per line, as Bicep writes them). */
function objectEntries(objectText: string): Array<{ key: string; value: string }> {
  const body = withoutComments(objectText.trim()).replace(/^\{/, '').replace(/\}$/, '');
  const entries: Array<{ key: string; value: string }> = [];
  let i = 0;
  while (i < body.length) {
    const rest = body.slice(i);
    const lead = /^[\s,]*/.exec(rest)![0].length;
    if (lead === rest.length) break;
    const key = /^(?:([A-Za-z_][A-Za-z0-9_]*)|'([^']*)')\s*:\s*/.exec(rest.slice(lead));
    if (!key) throw new Error(`not a "key: value" entry: ${rest.slice(lead, lead + 60)}`);
    let j = i + lead + key[0].length;
    const valueStart = j;
    // The value runs to the end of the line or the entry separator, skipping over bracket groups and strings.
    while (j < body.length && body[j] !== '\n' && body[j] !== ',') {
      if ('{[('.includes(body[j]!)) j = skipBalanced(body, j);
      else if (body[j] === "'") j = skipString(body, j);
      else j++;
    }
    entries.push({ key: key[1] ?? key[2]!, value: body.slice(valueStart, j).trim() });
    i = j;
  }
  return entries;
}

/** The object literal of `var <name> = {...}`. */
function bicepVarObject(text: string, name: string): string {
  const match = new RegExp(`^var ${name}\\s*=\\s*\\{`, 'm').exec(text);
  if (!match) throw new Error(`no "var ${name} = {" object literal`);
  const open = match.index + match[0].length - 1;
  return text.slice(open, skipBalanced(text, open));
}

/** `var <name> = <cond> ? {...} : {...}`: the two object literals. */
function bicepConditionalObject(text: string, name: string): { condition: string; whenTrue: string; whenFalse: string } {
  const match = new RegExp(`^var ${name}\\s*=\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\?\\s*\\{`, 'm').exec(text);
  if (!match) throw new Error(`no "var ${name} = <flag> ? {...} : {...}"`);
  const open1 = match.index + match[0].length - 1;
  const end1 = skipBalanced(text, open1);
  const colon = /^\s*:\s*\{/.exec(text.slice(end1));
  if (!colon) throw new Error(`var ${name}: expected ": {...}" after the first object`);
  const open2 = end1 + colon[0].length - 1;
  return { condition: match[1]!, whenTrue: text.slice(open1, end1), whenFalse: text.slice(open2, skipBalanced(text, open2)) };
}

/** `param <name> <type> = <literal>` defaults of a template. */
function paramDefaults(text: string): Map<string, string | number | boolean> {
  const defaults = new Map<string, string | number | boolean>();
  for (const m of text.matchAll(/^param (\w+) (string|int|bool) = (.+)$/gm)) {
    const raw = m[3]!.trim();
    if (/^'[^']*'$/.test(raw)) defaults.set(m[1]!, raw.slice(1, -1));
    else if (/^-?\d+$/.test(raw)) defaults.set(m[1]!, Number(raw));
    else if (raw === 'true' || raw === 'false') defaults.set(m[1]!, raw === 'true');
  }
  return defaults;
}

/** `var <name> = <cond> ? <literal> : <literal>` (e.g. a count by instance size): both literals. */
function conditionalLiteralVars(text: string): Map<string, [string | number, string | number]> {
  const literal = (raw: string) => (/^-?\d+$/.test(raw) ? Number(raw) : raw.slice(1, -1));
  return new Map(
    [...text.matchAll(/^var (\w+) = [^?\n]+\? (-?\d+|'[^']*') : (-?\d+|'[^']*')\s*$/gm)].map((m) => [
      m[1]!,
      [literal(m[2]!), literal(m[3]!)],
    ]),
  );
}

/** `output <NAME> <type> = <expression>` of a template. */
function outputs(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^output (\w+) \w+ = (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
}

/**
 * A Bicep value as JSON: literals as they are, parameters by their defaults, anything computed at deployment time
 * (module outputs, resource properties) by a placeholder of the kind the key suggests.
 */
function bicepValue(value: string, key: string, defaults: Map<string, string | number | boolean>): unknown {
  if (value.startsWith('{')) return Object.fromEntries(objectEntries(value).map((e) => [e.key, bicepValue(e.value, e.key, defaults)]));
  if (/^'[^'$]*'$/.test(value)) return value.slice(1, -1);
  if (/^-?\d+$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  const stringOf = /^string\((\w+)\)$/.exec(value);
  if (stringOf && defaults.has(stringOf[1]!)) return String(defaults.get(stringOf[1]!));
  if (defaults.has(value)) return defaults.get(value);
  return /uri|endpoint/i.test(key) ? 'https://placeholder.example/' : 'placeholder';
}

// ------------------------------------------------------------------------------------------------ the inputs

interface DeployFiles {
  functionAppBicep: string;
  mainBicep: string;
  storageBicep: string;
  cosmosBicep: string;
  localSettings: string;
  hostJson: string;
  azureYaml: string;
  postdeploySh: string;
  postdeployPs1: string;
}

function realFiles(): DeployFiles {
  return {
    functionAppBicep: read('infra/app/function-app.bicep'),
    mainBicep: read('infra/main.bicep'),
    storageBicep: read('infra/app/storage.bicep'),
    cosmosBicep: read('infra/app/cosmos.bicep'),
    localSettings: read('local.settings.sample.json'),
    hostJson: read('host.json'),
    azureYaml: read('azure.yaml'),
    postdeploySh: read('infra/hooks/postdeploy.sh'),
    postdeployPs1: read('infra/hooks/postdeploy.ps1'),
  };
}

const bicepAppSettings = (f: DeployFiles) => objectEntries(bicepVarObject(f.functionAppBicep, 'appSettings'));
const localValues = (f: DeployFiles): Record<string, string> => (JSON.parse(f.localSettings) as { Values: Record<string, string> }).Values;
const settingNames = (): string[] => Object.values(SETTING_NAMES);

// ------------------------------------------------------------------------------------------------ the checks

function settingsCoverageProblems(f: DeployFiles, names: string[] = settingNames(), srcRead: (file: string) => string = read): string[] {
  const problems: string[] = [];
  const bicep = new Set(bicepAppSettings(f).map((e) => e.key));
  const local = new Set(Object.keys(localValues(f)));
  const known = new Set(names);
  for (const name of names) {
    if (!bicep.has(name) && !local.has(name) && !ALTERNATIVES[name])
      problems.push(`${name} is read by the app but set neither in the Bicep app settings nor in local.settings.sample.json`);
    if (!bicep.has(name) && !AZURE_OMITTED[name])
      problems.push(
        `${name} is read by the app but missing from the Bicep app settings (add it, or list it in AZURE_OMITTED with the reason)`,
      );
    if (!local.has(name) && !LOCAL_OMITTED[name])
      problems.push(
        `${name} is read by the app but missing from local.settings.sample.json (add it, or list it in LOCAL_OMITTED with the reason)`,
      );
  }
  for (const [list, label, provided] of [
    [AZURE_OMITTED, 'AZURE_OMITTED', bicep],
    [LOCAL_OMITTED, 'LOCAL_OMITTED', local],
    [ALTERNATIVES, 'ALTERNATIVES', new Set([...bicep, ...local])],
  ] as const) {
    for (const name of Object.keys(list)) {
      if (!known.has(name)) problems.push(`${label} lists ${name}, which the app does not read (stale entry)`);
      if (provided.has(name)) problems.push(`${label} lists ${name}, but it is set after all (stale entry)`);
    }
  }
  for (const [source, provided] of [
    ['Bicep', bicep],
    ['local.settings.sample.json', local],
  ] as const) {
    for (const name of provided) {
      if (!known.has(name) && !HOST_READ[name] && !READ_BY_CODE_ELSEWHERE[name])
        problems.push(`${source} sets ${name}, which neither the app nor the host reads`);
    }
  }
  for (const [name, file] of Object.entries(READ_BY_CODE_ELSEWHERE)) {
    if (!srcRead(file).includes(name)) problems.push(`READ_BY_CODE_ELSEWHERE says ${file} reads ${name}, but it does not mention it`);
  }
  for (const name of FLEX_UNSUPPORTED)
    if (bicep.has(name)) problems.push(`the Bicep sets ${name}, which Flex Consumption does not support`);
  return problems;
}

/** %NAME% in host.json and in the registered functions' options (timer schedules, paths, queue names). */
function placeholderNames(hostJson: string): Set<string> {
  const texts = [
    hostJson,
    JSON.stringify(
      [registrations.timer, registrations.blob, registrations.queue, registrations.http]
        .flat()
        .map((r) => ({ ...r.options, handler: undefined })),
    ),
  ];
  return new Set(texts.flatMap((t) => [...t.matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]!)));
}

function placeholderProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  try {
    JSON.parse(f.hostJson);
  } catch (error) {
    return [`host.json is not JSON: ${(error as Error).message}`];
  }
  const bicep = new Set(bicepAppSettings(f).map((e) => e.key));
  const local = new Set(Object.keys(localValues(f)));
  for (const name of placeholderNames(f.hostJson)) {
    if (!bicep.has(name)) problems.push(`%${name}% is used but the Bicep app settings do not set ${name}`);
    if (!local.has(name)) problems.push(`%${name}% is used but local.settings.sample.json does not set ${name}`);
  }
  return problems;
}

function containerProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  const blobContainers = new Set(
    [...withoutComments(bicepVarArray(f.storageBicep, 'dataContainers')).matchAll(/'([^']+)'/g)].map((m) => m[1]!),
  );
  for (const name of Object.values(BLOB_CONTAINERS))
    if (!blobContainers.has(name)) problems.push(`blob container ${name} (names.ts) is not created by infra/app/storage.bicep`);
  const queues = new Set([...withoutComments(bicepVarArray(f.storageBicep, 'dataQueues')).matchAll(/'([^']+)'/g)].map((m) => m[1]!));
  for (const name of Object.values(QUEUES))
    if (!queues.has(name)) problems.push(`queue ${name} (names.ts) is not created by infra/app/storage.bicep`);
  const cosmos = new Map(
    [
      ...withoutComments(bicepVarArray(f.cosmosBicep, 'containers')).matchAll(
        /\{\s*name:\s*'([^']+)'\s*,?\s*partitionKey:\s*'([^']+)'\s*\}/g,
      ),
    ].map((m) => [m[1]!, m[2]!]),
  );
  for (const spec of Object.values(COSMOS_CONTAINERS)) {
    if (!cosmos.has(spec.id)) problems.push(`Cosmos DB container ${spec.id} (names.ts) is not created by infra/app/cosmos.bicep`);
    else if (cosmos.get(spec.id) !== spec.partitionKey)
      problems.push(`Cosmos DB container ${spec.id}: partition key ${cosmos.get(spec.id)} in the Bicep, ${spec.partitionKey} in names.ts`);
  }
  const database = paramDefaults(f.cosmosBicep).get('databaseName');
  const mainDatabase = /databaseName:\s*'([^']+)'/.exec(withoutComments(f.mainBicep))?.[1];
  const codeDefault = loadSettings({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    COSMOS_ENDPOINT: 'https://x.documents.azure.com:443/',
  }).cosmos.database;
  for (const [where, value] of [
    ['cosmos.bicep databaseName default', database],
    ['main.bicep databaseName', mainDatabase],
  ] as const) {
    if (value !== codeDefault) problems.push(`${where} is ${String(value)}, the app's default database is ${codeDefault}`);
  }
  return problems;
}

function bicepVarArray(text: string, name: string): string {
  const match = new RegExp(`^var ${name}\\s*=\\s*\\[`, 'm').exec(text);
  if (!match) throw new Error(`no "var ${name} = [" array literal`);
  const open = match.index + match[0].length - 1;
  return text.slice(open, skipBalanced(text, open));
}

function eventGridProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  const eventGridBlobs = registrations.blob.filter((r) => r.options.source === 'EventGrid');
  if (eventGridBlobs.length !== 1) return [`expected one Event Grid blob trigger, found ${eventGridBlobs.length}`];
  const { name, options } = eventGridBlobs[0]!;
  const container = options.path.split('/')[0]!;
  const out = outputs(withoutComments(f.mainBicep));
  if (out.get('BLOB_TRIGGER_FUNCTION_NAME') !== `'${name}'`)
    problems.push(
      `main.bicep output BLOB_TRIGGER_FUNCTION_NAME is ${out.get('BLOB_TRIGGER_FUNCTION_NAME')}, the registered blob function is ${name}`,
    );
  if (out.get('IMAGES_CONTAINER_NAME') !== `'${container}'`)
    problems.push(`main.bicep output IMAGES_CONTAINER_NAME is ${out.get('IMAGES_CONTAINER_NAME')}, the blob trigger watches ${container}`);
  if (options.connection !== 'AzureWebJobsStorage')
    problems.push(`the blob trigger uses connection ${options.connection}; the Event Grid topic is on the AzureWebJobsStorage account`);
  // The system topic is on the account the app's AzureWebJobsStorage points at.
  const main = withoutComments(f.mainBicep);
  if (!/module eventGrid [^\n]*\{[\s\S]*?storageAccountId: storage\.outputs\.id/.test(main))
    problems.push("the Event Grid system topic is not on the storage module's account");
  if (!/module functionApp [^\n]*\{[\s\S]*?storageAccountName: storage\.outputs\.name/.test(main))
    problems.push("the function app does not use the storage module's account");

  for (const [file, hook, fnDefault, containerDefault] of [
    ['postdeploy.sh', f.postdeploySh, /BLOB_TRIGGER_FUNCTION_NAME:-([A-Za-z0-9_]+)\}/, /IMAGES_CONTAINER_NAME:-([a-z0-9-]+)\}/],
    [
      'postdeploy.ps1',
      f.postdeployPs1,
      /BLOB_TRIGGER_FUNCTION_NAME \} else \{ '([A-Za-z0-9_]+)' \}/,
      /IMAGES_CONTAINER_NAME \} else \{ '([a-z0-9-]+)' \}/,
    ],
  ] as const) {
    if (fnDefault.exec(hook)?.[1] !== name) problems.push(`${file}: the default function name is not ${name}`);
    if (containerDefault.exec(hook)?.[1] !== container) problems.push(`${file}: the default container is not ${container}`);
    if (!/runtime\/webhooks\/blobs\?functionName=Host\.Functions\.\$\{?FUNCTION\}?&code=/i.test(hook.replace(/\$function/g, '${FUNCTION}')))
      problems.push(`${file}: the endpoint is not the blob extension webhook of Host.Functions.<function>`);
    if (!hook.includes('--included-event-types Microsoft.Storage.BlobCreated'))
      problems.push(`${file}: the subscription does not include Microsoft.Storage.BlobCreated`);
    if (
      !/--subject-begins-with "\/blobServices\/default\/containers\/\$\{?CONTAINER\}?\/"/i.test(
        hook.replace(/\$container/g, '${CONTAINER}'),
      )
    )
      problems.push(`${file}: the subject filter is not /blobServices/default/containers/<container>/`);
    if (!hook.includes('systemKeys.blobs_extension')) problems.push(`${file}: does not read the blobs_extension system key`);
    // Every azd environment value the hook reads is an output of main.bicep.
    // (sh: ${NAME:-...} / ${NAME:?...} expansions; PowerShell: $env:NAME.)
    const used = new Set([...hook.matchAll(/\$\{([A-Z][A-Z0-9_]+):[-?]|\$env:([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]!));
    if (used.size < 5) problems.push(`${file} reads only ${[...used].join(', ')} from the azd environment`);
    for (const value of used) if (!out.has(value)) problems.push(`${file} reads ${value}, which main.bicep does not output`);
  }
  return problems;
}

function azureYamlProblems(f: DeployFiles, exists: (file: string) => boolean = (file) => existsSync(path.join(ROOT, file))): string[] {
  const problems: string[] = [];
  const runs = [...f.azureYaml.matchAll(/^\s*run:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
  if (!runs.length) problems.push('azure.yaml runs no hook');
  for (const run of runs) if (!exists(run)) problems.push(`azure.yaml runs ${run}, which does not exist`);
  if (!/^hooks:\s*\n\s+postdeploy:/m.test(f.azureYaml)) problems.push('azure.yaml has no postdeploy hook');
  const service = /^services:\s*\n\s+([a-z0-9-]+):\s*\n((?:\s{4,}.*\n?)+)/m.exec(f.azureYaml);
  if (!service) return [...problems, 'azure.yaml declares no service'];
  if (!/host:\s*function\b/.test(service[2]!)) problems.push(`azure.yaml service ${service[1]} is not host: function`);
  if (!/project:\s*\.\s*$/m.test(service[2]!)) problems.push(`azure.yaml service ${service[1]} is not the repository root (project: .)`);
  if (!f.functionAppBicep.includes(`'azd-service-name': '${service[1]}'`))
    problems.push(`the function app is not tagged azd-service-name: ${service[1]} (azd would not find it)`);
  const infra = /^infra:\s*\n((?:\s+.*\n?)+)/m.exec(f.azureYaml)?.[1] ?? '';
  const infraPath = /path:\s*(\S+)/.exec(infra)?.[1] ?? 'infra';
  const infraModule = /module:\s*(\S+)/.exec(infra)?.[1] ?? 'main';
  if (!exists(`${infraPath}/${infraModule}.bicep`)) problems.push(`azure.yaml infra ${infraPath}/${infraModule}.bicep does not exist`);
  if (!exists(`${infraPath}/${infraModule}.parameters.json`))
    problems.push(`azure.yaml infra ${infraPath}/${infraModule}.parameters.json does not exist`);
  return problems;
}

/** The app settings the Bicep would give the app, as an environment (deployment-time values as placeholders). */
function simulatedAzureEnv(f: DeployFiles, flags: { deployOpenAi: boolean; deployVision: boolean }): NodeJS.ProcessEnv {
  const main = withoutComments(f.mainBicep);
  const mainDefaults = paramDefaults(main);
  const appDefaults = paramDefaults(f.functionAppBicep);
  // Conditional literals (e.g. localWorkers by instance size): the first branch; the test checks both are valid.
  for (const [name, [first]] of conditionalLiteralVars(f.functionAppBicep)) appDefaults.set(name, first);
  const branch = (name: string) => {
    const c = bicepConditionalObject(main, name);
    const on = flags[c.condition as keyof typeof flags];
    if (on === undefined) throw new Error(`var ${name} depends on ${c.condition}, not on deployOpenAi/deployVision`);
    return bicepValue(on ? c.whenTrue : c.whenFalse, name, mainDefaults);
  };
  if (!/labelingConfig:\s*string\(\{\s*scene:\s*sceneConfig,\s*detector:\s*detectorConfig\s*\}\)/.test(main)) {
    throw new Error('main.bicep does not pass labelingConfig: string({ scene: sceneConfig, detector: detectorConfig })');
  }
  const labelingConfig = JSON.stringify({ scene: branch('sceneConfig'), detector: branch('detectorConfig') });
  const env: NodeJS.ProcessEnv = {};
  for (const { key, value } of bicepAppSettings(f)) {
    env[key] = value === 'labelingConfig' ? labelingConfig : String(bicepValue(value, key, appDefaults));
  }
  return env;
}

/**
 * The host tries a blob `queues.maxDequeueCount` times, then poisons it; the app gives up (stores `failed`) on try
 * LABEL_MAX_ATTEMPTS. The app must give up first or together, so the poison queue is the exception, not the rule.
 */
function attemptProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  const host = JSON.parse(f.hostJson) as { extensions?: { queues?: { maxDequeueCount?: number } } };
  const hostTries = host.extensions?.queues?.maxDequeueCount ?? HOST_MAX_ATTEMPTS;
  if (hostTries !== HOST_MAX_ATTEMPTS)
    problems.push(`the local blob trigger tries ${HOST_MAX_ATTEMPTS} times, host.json says ${hostTries}`);
  const azure = loadSettings(simulatedAzureEnv(f, { deployOpenAi: true, deployVision: true })).maxLabelAttempts;
  if (azure > hostTries) problems.push(`Azure: LABEL_MAX_ATTEMPTS ${azure} > host.json queues.maxDequeueCount ${hostTries}`);
  const local = loadSettings(localValues(f)).maxLabelAttempts;
  if (local > hostTries) problems.push(`local: LABEL_MAX_ATTEMPTS ${local} > host.json queues.maxDequeueCount ${hostTries}`);
  if (hostTries !== MAX_DEQUEUE_COUNT)
    problems.push(`the label-requests handler's last delivery is ${MAX_DEQUEUE_COUNT}, host.json says ${hostTries}`);
  // The sweep must not take an image whose try may still be running: a try lasts at most functionTimeout.
  const timeout = /^(\d+):(\d+):(\d+)$/.exec((JSON.parse(f.hostJson) as { functionTimeout?: string }).functionTimeout ?? '');
  const timeoutMs = timeout ? ((Number(timeout[1]) * 60 + Number(timeout[2])) * 60 + Number(timeout[3])) * 1000 : Infinity;
  for (const [where, env] of [
    ['Azure', simulatedAzureEnv(f, { deployOpenAi: true, deployVision: true })],
    ['local', localValues(f)],
  ] as const) {
    const graceMs = loadSettings(env).sweep.graceMs;
    if (graceMs < timeoutMs)
      problems.push(`${where}: BATCH_SWEEP_GRACE_MINUTES ${graceMs / 60_000} is shorter than host.json functionTimeout`);
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------ the tests

test('settings: every setting the app reads is provided (or left out for a stated reason), every provided one is read', () => {
  assert.deepEqual(settingsCoverageProblems(realFiles()), []);
});

test('settings check fails on a setting nobody provides, one nobody reads, a stale exception, a Flex-unsupported one', () => {
  const real = realFiles();
  // The app starts reading a new setting that neither file sets.
  assert.match(
    settingsCoverageProblems(real, [...settingNames(), 'NEW_SETTING']).join('\n'),
    /NEW_SETTING is read by the app but set neither/,
  );
  // The Bicep sets something nobody reads.
  const extraBicep = {
    ...real,
    functionAppBicep: real.functionAppBicep.replace(
      '  COSMOS_ENDPOINT: cosmosEndpoint\n',
      '  COSMOS_ENDPOINT: cosmosEndpoint\n  COSMOS_ENDPIONT: cosmosEndpoint\n',
    ),
  };
  assert.match(settingsCoverageProblems(extraBicep).join('\n'), /Bicep sets COSMOS_ENDPIONT, which neither/);
  // A setting dropped from the Bicep.
  const dropped = { ...real, functionAppBicep: real.functionAppBicep.replace(/^\s*LABEL_MAX_ATTEMPTS:.*\n/m, '') };
  assert.match(settingsCoverageProblems(dropped).join('\n'), /LABEL_MAX_ATTEMPTS is read by the app but missing from the Bicep/);
  // A commented-out setting does not count.
  const commented = { ...real, functionAppBicep: real.functionAppBicep.replace(/^(\s*)(EVALUATION_CHUNK_SIZE:)/m, '$1// $2') };
  assert.match(settingsCoverageProblems(commented).join('\n'), /EVALUATION_CHUNK_SIZE is read by the app but missing from the Bicep/);
  // The local sample sets something nobody reads, and loses a setting.
  const local = JSON.parse(real.localSettings) as { Values: Record<string, string> };
  local.Values['AUTOLABEL_CONFG'] = '{}';
  delete local.Values['COSMOS_KEY'];
  const badLocal = settingsCoverageProblems({ ...real, localSettings: JSON.stringify(local) }).join('\n');
  assert.match(badLocal, /local\.settings\.sample\.json sets AUTOLABEL_CONFG, which neither/);
  assert.match(badLocal, /COSMOS_KEY is read by the app but missing from local\.settings\.sample\.json/);
  // An exception that became stale: the Bicep now sets COSMOS_KEY.
  const keyed = {
    ...real,
    functionAppBicep: real.functionAppBicep.replace(
      '  COSMOS_ENDPOINT: cosmosEndpoint\n',
      "  COSMOS_ENDPOINT: cosmosEndpoint\n  COSMOS_KEY: 'x'\n",
    ),
  };
  assert.match(settingsCoverageProblems(keyed).join('\n'), /AZURE_OMITTED lists COSMOS_KEY, but it is set after all/);
  // A Flex-unsupported setting.
  const flex = {
    ...real,
    functionAppBicep: real.functionAppBicep.replace(
      '  COSMOS_ENDPOINT: cosmosEndpoint\n',
      "  COSMOS_ENDPOINT: cosmosEndpoint\n  FUNCTIONS_WORKER_RUNTIME: 'node'\n",
    ),
  };
  assert.match(settingsCoverageProblems(flex).join('\n'), /FUNCTIONS_WORKER_RUNTIME, which Flex Consumption does not support/);
  // A setting said to be read elsewhere, by a file that does not read it.
  assert.match(
    settingsCoverageProblems(real, settingNames(), () => '').join('\n'),
    /READ_BY_CODE_ELSEWHERE says .* reads AUTOLABEL_CACHE_DIR, but it does not/,
  );
});

test('settings: the Bicep app settings and the local sample both load with loadSettings (identity in Azure, keys locally)', () => {
  const real = realFiles();
  const local = loadSettings(localValues(real));
  assert.equal(local.storage.kind, 'connection-string');
  assert.equal(local.cosmos.auth.kind, 'key');
  assert.equal(local.labeling.scene.provider, 'local');
  assert.equal(local.labeling.detector.provider, 'onnx');
  for (const deployOpenAi of [true, false]) {
    for (const deployVision of [true, false]) {
      const env = simulatedAzureEnv(real, { deployOpenAi, deployVision });
      const settings = loadSettings(env);
      assert.equal(settings.storage.kind, 'identity');
      assert.equal(settings.cosmos.auth.kind, 'identity');
      assert.equal(settings.labelingSource, 'AUTOLABEL_CONFIG');
      assert.equal(settings.labeling.scene.provider, deployOpenAi ? 'openai' : 'local');
      assert.equal(settings.labeling.detector.provider, deployVision ? 'azure-vision' : 'onnx');
      for (const provider of [settings.labeling.scene, settings.labeling.detector]) {
        if ('auth' in provider) assert.equal(provider.auth.type, 'entra', 'no keys in Azure');
      }
      if (settings.labeling.scene.provider === 'openai') assert.equal(settings.labeling.scene.azure?.apiVersion, '2024-10-21');
      assert.equal(settings.nightly.schedule, '0 0 2 * * *');
      assert.doesNotThrow(() => resolveLocalWorkers(undefined, env));
      assert.equal(env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING'], 'placeholder', 'computed from the identity at deployment');
    }
  }
  // Every branch of a conditional literal is a valid value (localWorkers: 1 or 2 worker threads).
  const workers = conditionalLiteralVars(real.functionAppBicep).get('localWorkers');
  assert.ok(workers, 'function-app.bicep: var localWorkers = <cond> ? <n> : <m>');
  for (const n of workers) assert.equal(resolveLocalWorkers(undefined, { AUTOLABEL_LOCAL_WORKERS: String(n) }), n);
});

test('settings: a labeling config the Bicep builds wrongly is caught', () => {
  const real = realFiles();
  const typo = {
    ...real,
    mainBicep: real.mainBicep.replace('deployment: openAi.outputs.deploymentName', 'deploymnt: openAi.outputs.deploymentName'),
  };
  assert.throws(() => loadSettings(simulatedAzureEnv(typo, { deployOpenAi: true, deployVision: false })), /deploymnt|deployment/);
  const badApi = { ...real, mainBicep: real.mainBicep.replace("param visionApi string = '4.0'", "param visionApi string = '4'") };
  assert.throws(() => loadSettings(simulatedAzureEnv(badApi, { deployOpenAi: false, deployVision: true })), /detector\.api/);
  const keyAuth = {
    ...real,
    mainBicep: real.mainBicep.replace(/(provider: 'azure-vision'[\s\S]*?)auth: \{ type: 'entra' \}/, "$1auth: { type: 'key' }"),
  };
  assert.throws(() => loadSettings(simulatedAzureEnv(keyAuth, { deployOpenAi: false, deployVision: true })), /detector\.auth/);
});

test('host.json parses, keeps the bundle and route prefix, and every %NAME% is provided in Azure and locally', () => {
  const real = realFiles();
  const host = JSON.parse(real.hostJson) as {
    extensionBundle: { version: string };
    extensions: { http: { routePrefix: string }; durableTask: { hubName: string } };
  };
  assert.equal(host.extensionBundle.version, '[4.*, 5.0.0)');
  assert.equal(host.extensions.http.routePrefix, 'api');
  assert.equal(host.extensions.durableTask.hubName, '%TASK_HUB_NAME%');
  const names = placeholderNames(real.hostJson);
  assert.ok(names.has('TASK_HUB_NAME') && names.has('NIGHTLY_REPORT_SCHEDULE'), [...names].join(', '));
  assert.deepEqual(placeholderProblems(real), []);
  // Mutations: a new %NAME% nobody sets; broken JSON.
  const mutated = { ...real, hostJson: real.hostJson.replace('"%TASK_HUB_NAME%"', '"%DURABLE_HUB%"') };
  const problems = placeholderProblems(mutated).join('\n');
  assert.match(problems, /%DURABLE_HUB% is used but the Bicep app settings do not set DURABLE_HUB/);
  assert.match(problems, /%DURABLE_HUB% is used but local\.settings\.sample\.json does not set DURABLE_HUB/);
  assert.match(placeholderProblems({ ...real, hostJson: `${real.hostJson},` }).join('\n'), /host\.json is not JSON/);
});

test('the app stores `failed` no later than the host gives up on a blob (LABEL_MAX_ATTEMPTS <= queues.maxDequeueCount)', () => {
  const real = realFiles();
  assert.deepEqual(attemptProblems(real), []);
  const hostGivesUpFirst = { ...real, hostJson: real.hostJson.replace('"maxDequeueCount": 5', '"maxDequeueCount": 3') };
  const problems = attemptProblems(hostGivesUpFirst).join('\n');
  assert.match(problems, /Azure: LABEL_MAX_ATTEMPTS 5 > host\.json queues\.maxDequeueCount 3/);
  assert.match(problems, /the local blob trigger tries 5 times, host\.json says 3/);
  const longTries = { ...real, hostJson: real.hostJson.replace('"functionTimeout": "00:10:00"', '"functionTimeout": "00:30:00"') };
  assert.match(attemptProblems(longTries).join('\n'), /Azure: BATCH_SWEEP_GRACE_MINUTES 10 is shorter than host\.json functionTimeout/);
  const local = JSON.parse(real.localSettings) as { Values: Record<string, string> };
  local.Values['LABEL_MAX_ATTEMPTS'] = '7';
  assert.match(
    attemptProblems({ ...real, localSettings: JSON.stringify(local) }).join('\n'),
    /local: LABEL_MAX_ATTEMPTS 7 > host\.json queues\.maxDequeueCount 5/,
  );
});

test('every blob container and Cosmos DB container (with its partition key) of names.ts is created by the Bicep', () => {
  const real = realFiles();
  assert.deepEqual(containerProblems(real), []);
  const noQueue = { ...real, storageBicep: real.storageBicep.replace("  'label-requests'\n", '') };
  assert.match(containerProblems(noQueue).join('\n'), /queue label-requests \(names\.ts\) is not created/);
  const noGroundTruth = { ...real, storageBicep: real.storageBicep.replace("  'groundtruth'\n", '') };
  assert.match(containerProblems(noGroundTruth).join('\n'), /blob container groundtruth/);
  const wrongKey = {
    ...real,
    cosmosBicep: real.cosmosBicep.replace("{ name: 'reports', partitionKey: '/id' }", "{ name: 'reports', partitionKey: '/batchId' }"),
  };
  assert.match(
    containerProblems(wrongKey).join('\n'),
    /Cosmos DB container reports: partition key \/batchId in the Bicep, \/id in names\.ts/,
  );
  const noLabels = { ...real, cosmosBicep: real.cosmosBicep.replace("  { name: 'labels', partitionKey: '/batchId' }\n", '') };
  assert.match(containerProblems(noLabels).join('\n'), /Cosmos DB container labels \(names\.ts\) is not created/);
  const otherDb = { ...real, mainBicep: real.mainBicep.replace("databaseName: 'autolabel'", "databaseName: 'labels'") };
  assert.match(containerProblems(otherDb).join('\n'), /main\.bicep databaseName is labels/);
});

test('the Event Grid subscription hook targets the registered blob function and its container', () => {
  const real = realFiles();
  assert.deepEqual(eventGridProblems(real), []);
  const renamed = {
    ...real,
    mainBicep: real.mainBicep.replace(
      "output BLOB_TRIGGER_FUNCTION_NAME string = 'labelImageBlob'",
      "output BLOB_TRIGGER_FUNCTION_NAME string = 'processImage'",
    ),
  };
  assert.match(
    eventGridProblems(renamed).join('\n'),
    /BLOB_TRIGGER_FUNCTION_NAME is 'processImage', the registered blob function is labelImageBlob/,
  );
  const shDefault = {
    ...real,
    postdeploySh: real.postdeploySh.replace('BLOB_TRIGGER_FUNCTION_NAME:-labelImageBlob}', 'BLOB_TRIGGER_FUNCTION_NAME:-labelImage}'),
  };
  assert.match(eventGridProblems(shDefault).join('\n'), /postdeploy\.sh: the default function name/);
  const psFilter = {
    ...real,
    postdeployPs1: real.postdeployPs1.replace(
      '--subject-begins-with "/blobServices/default/containers/$container/"',
      '--subject-begins-with "/blobServices/default/containers/"',
    ),
  };
  assert.match(eventGridProblems(psFilter).join('\n'), /postdeploy\.ps1: the subject filter/);
  const noOutput = { ...real, mainBicep: real.mainBicep.replace(/^output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME .*$/m, '') };
  assert.match(eventGridProblems(noOutput).join('\n'), /reads AZURE_EVENTGRID_SYSTEM_TOPIC_NAME, which main\.bicep does not output/);
  const otherTopic = { ...real, mainBicep: real.mainBicep.replace('storageAccountId: storage.outputs.id', "storageAccountId: 'other'") };
  assert.match(eventGridProblems(otherTopic).join('\n'), /system topic is not on the storage module's account/);
});

test('azure.yaml: a function service at the root, tagged in the Bicep, and hooks that exist', () => {
  const real = realFiles();
  assert.deepEqual(azureYamlProblems(real), []);
  const missingHook = { ...real, azureYaml: real.azureYaml.replace('./infra/hooks/postdeploy.sh', './scripts/post-up.sh') };
  assert.match(azureYamlProblems(missingHook).join('\n'), /runs \.\/scripts\/post-up\.sh, which does not exist/);
  const otherService = { ...real, azureYaml: real.azureYaml.replace('\n  api:\n', '\n  processor:\n') };
  assert.match(azureYamlProblems(otherService).join('\n'), /not tagged azd-service-name: processor/);
  assert.match(azureYamlProblems(real, () => false).join('\n'), /infra\/main\.bicep does not exist/);
});

test('the Bicep modules main.bicep references exist, and every module has the parameters it is given', () => {
  const main = withoutComments(read('infra/main.bicep'));
  const modules = [...main.matchAll(/^module (\w+) '([^']+)'[^\n]*\{\n([\s\S]*?)^\}/gm)];
  assert.ok(modules.length >= 9, `found ${modules.length} modules`);
  for (const [, symbol, file, body] of modules) {
    const text = read(path.join('infra', file!));
    const declared = new Set([...text.matchAll(/^param (\w+) /gm)].map((m) => m[1]!));
    const params = /params:\s*\{/.exec(body!);
    assert.ok(params, `module ${symbol} passes no params`);
    const open = params.index + params[0].length - 1;
    const given = objectEntries(body!.slice(open, skipBalanced(body!, open))).map((e) => e.key);
    for (const name of given) assert.ok(declared.has(name), `module ${symbol} (${file}) is given ${name}, which it does not declare`);
    // Parameters without a default must be given.
    for (const m of text.matchAll(/^param (\w+) [\w[\]]+\s*$/gm))
      assert.ok(given.includes(m[1]!), `module ${symbol} (${file}) needs ${m[1]}`);
  }
  // Every module file in infra/app is used.
  for (const file of readdirSync(path.join(ROOT, 'infra/app'))) {
    assert.ok(
      modules.some(([, , used]) => used === `app/${file}`),
      `infra/app/${file} is not used by main.bicep`,
    );
  }
  // main.parameters.json gives only parameters main.bicep declares.
  const parameters = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
  const declared = new Set([...main.matchAll(/^param (\w+) /gm)].map((m) => m[1]!));
  for (const name of Object.keys(parameters.parameters))
    assert.ok(declared.has(name), `main.parameters.json sets ${name}, which main.bicep does not declare`);
});
