/**
 * The deployment's configuration agrees with the code: every setting the app reads is provided (Bicep app settings
 * in Azure, local.settings.sample.json locally) or deliberately left out for a stated reason; every provided setting
 * is read by someone (the app, or the Functions host: listed below); %NAME% placeholders resolve in both; the
 * containers, queues and Cosmos DB containers of src/app/store/names.ts are created by the Bicep with the right
 * partition keys and database; the Event Grid hook subscribes the blob function that is registered; azure.yaml's
 * hooks exist; the AUTOLABEL_CONFIG the Bicep builds parses as a labeling config.
 *
 * Bicep cannot be compiled here. The templates are parsed and evaluated (test/helpers/bicep.ts): the checks see
 * what a template would deploy with its default parameters, not how it is written, so reformatting a template
 * cannot break them (one test below reformats every template three ways and runs every check again). The data
 * the templates load with loadJsonContent (infra/app/app-settings.json, data-resources.json) is generated from the
 * code by `npm run infra:data`; the first check fails when a committed file is stale.
 * Each check is a pure function of the files, run on the real files and on mutated copies (so each can fail).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { loadSettings, SETTING_NAMES } from '../src/app/settings';
import { resolveLocalWorkers } from '../src/adapters/providers/local-workers';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS, QUEUES } from '../src/app/store/names';
import { MAX_DEQUEUE_COUNT } from '../src/app/functions/labelImageQueue';
import { HOST_MAX_ATTEMPTS } from '../dev/local-host/blob-trigger/host-names';
import { APP_SETTINGS_FILE, infraData } from '../scripts/generate-infra-data';
import {
  allExpressions,
  concretize,
  Deferred,
  parseBicep,
  printExpr,
  printFile,
  replaceTokens,
  Template,
  tokenize,
  type Arguments,
  type Expr,
  type Value,
} from './helpers/bicep';
import { registeredFunctions, type RegisteredFunction } from './helpers/registered-functions';

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
  // Read by the remote build's npm install (app settings are its environment): onnxruntime-node's install script.
  ONNXRUNTIME_NODE_INSTALL: 'remote build: onnxruntime-node install script',
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

/** Queues the Functions host creates itself, so a trigger may read them although the Bicep does not create them. */
const HOST_CREATED_QUEUES: Record<string, string> = {
  'webjobs-blobtrigger-poison': "the blob trigger's poison queue (written by the host after maxDequeueCount tries)",
};

// ------------------------------------------------------------------------------------------------ the inputs

interface DeployFiles {
  /** Every .bicep and .json file under infra/, by its path relative to infra/ (`main.bicep`, `app/storage.bicep`). */
  infra: Record<string, string>;
  localSettings: string;
  hostJson: string;
  azureYaml: string;
  postdeploySh: string;
  postdeployPs1: string;
}

function infraFiles(dir = 'infra', prefix = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const relative = prefix + entry.name;
    if (entry.isDirectory()) Object.assign(files, infraFiles(path.join(dir, entry.name), `${relative}/`));
    else if (/\.(bicep|json)$/.test(entry.name)) files[relative] = read(path.join(dir, entry.name));
  }
  return files;
}

function realFiles(): DeployFiles {
  return {
    infra: infraFiles(),
    localSettings: read('local.settings.sample.json'),
    hostJson: read('host.json'),
    azureYaml: read('azure.yaml'),
    postdeploySh: read('infra/hooks/postdeploy.sh'),
    postdeployPs1: read('infra/hooks/postdeploy.ps1'),
  };
}

/** `f` with one infra file changed by a layout-independent token replacement (see replaceTokens). */
function mutateInfra(f: DeployFiles, file: string, from: string, to: string): DeployFiles {
  return { ...f, infra: { ...f.infra, [file]: replaceTokens(f.infra[file]!, from, to) } };
}

/** `f` with one generated JSON file changed. */
function mutateJson(f: DeployFiles, file: string, change: (data: any) => void): DeployFiles {
  const data = JSON.parse(f.infra[file]!) as unknown;
  change(data);
  return { ...f, infra: { ...f.infra, [file]: JSON.stringify(data, null, 2) } };
}

const infraReader = (f: DeployFiles) => (relative: string) => {
  const text = f.infra[relative];
  if (text === undefined) throw new Error(`infra/${relative} does not exist`);
  return text;
};

/** main.bicep with `args` for its parameters (the rest take their defaults; those without one are Deferred). */
const mainTemplate = (f: DeployFiles, args: Arguments = {}) => Template.load(infraReader(f), 'main.bicep', args);

/** The symbol of the one module of main.bicep that deploys `file` (`app/storage.bicep`), whatever it is called. */
function moduleSymbol(main: Template, file: string): string {
  const modules = main.modulesUsing(file);
  if (modules.length !== 1) throw new Error(`main.bicep uses ${file} ${modules.length} times, expected once`);
  return modules[0]!.symbol;
}

/** The expression main.bicep passes to `param` of the module deploying `file` (undefined when it passes none). */
function moduleParam(main: Template, file: string, param: string): Expr | undefined {
  const decl = main.file.modules.get(moduleSymbol(main, file))!;
  const body = decl.body.kind === 'if' ? decl.body.body : decl.body;
  const params = body.kind === 'object' ? body.entries.find((e) => e.key === 'params')?.value : undefined;
  return params?.kind === 'object' ? params.entries.find((e) => e.key === param)?.value : undefined;
}

const localValues = (f: DeployFiles): Record<string, string> => (JSON.parse(f.localSettings) as { Values: Record<string, string> }).Values;
const settingNames = (): string[] => Object.values(SETTING_NAMES);

/** How main.bicep is deployed by default: both providers (the azd parameters' defaults). */
const DEFAULT_DEPLOYMENT = { deployOpenAi: true, deployVision: true };

/**
 * The app settings Azure gets: the `properties` of the function app's `appsettings` config resource, evaluated
 * through main.bicep (module parameters, module outputs, loadJsonContent), deployment-time values as Deferred.
 */
function azureAppSettings(f: DeployFiles, args: Arguments = DEFAULT_DEPLOYMENT): Record<string, Value> {
  const main = mainTemplate(f, args);
  const app = main.module(moduleSymbol(main, 'app/function-app.bicep'));
  const configs = app.resources().filter((r) => r.type === 'Microsoft.Web/sites/config' && r.property('name') === 'appsettings');
  if (configs.length !== 1) throw new Error(`function-app.bicep has ${configs.length} appsettings config resources, expected one`);
  const settings = configs[0]!.property('properties');
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings) || settings instanceof Deferred)
    throw new Error('the appsettings properties are not an object the template determines');
  return settings;
}

const bicepSettingNames = (f: DeployFiles) => new Set(Object.keys(azureAppSettings(f)));

/** The app settings Azure gets, as an environment (deployment-time values as stand-ins of the right shape). */
function simulatedAzureEnv(f: DeployFiles, args: Arguments = DEFAULT_DEPLOYMENT): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(concretize(azureAppSettings(f, args) as Value) as Record<string, Value>).map(([k, v]) => [k, String(v)]),
  );
}

// ------------------------------------------------------------------------------------------------ the checks

/** The generated JSON files are what the code says now, and a template loads each of them. */
function generatedDataProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  for (const [file, expected] of Object.entries(infraData())) {
    const relative = path.posix.relative('infra', file);
    const committed = f.infra[relative];
    if (committed === undefined) {
      problems.push(`${file} is missing: run npm run infra:data`);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(committed);
    } catch (error) {
      problems.push(`${file} is not JSON (${(error as Error).message}): run npm run infra:data`);
      continue;
    }
    try {
      assert.deepStrictEqual(parsed, expected);
    } catch {
      problems.push(`${file} is stale (the code says ${JSON.stringify(expected)}): run npm run infra:data`);
    }
    const loadedBy = Object.keys(f.infra).filter((template) => template.endsWith('.bicep') && loadsJson(f, template).includes(relative));
    if (!loadedBy.length) problems.push(`${file} is generated but no template loads it with loadJsonContent`);
  }
  return problems;
}

/** The files (relative to infra/) a template loads with loadJsonContent. */
function loadsJson(f: DeployFiles, template: string): string[] {
  return allExpressions(parseBicep(f.infra[template]!))
    .filter((e): e is Expr & { kind: 'call' } => e.kind === 'call' && e.callee.kind === 'identifier' && e.callee.name === 'loadJsonContent')
    .map((call) => call.args[0])
    .filter((arg): arg is Expr & { kind: 'string' } => arg?.kind === 'string' && arg.parts.every((p) => typeof p === 'string'))
    .map((arg) => path.posix.join(path.posix.dirname(template), arg.parts.join('')));
}

function settingsCoverageProblems(f: DeployFiles, names: string[] = settingNames(), srcRead: (file: string) => string = read): string[] {
  const problems: string[] = [];
  const bicep = bicepSettingNames(f);
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

/**
 * App settings are strings, and a default deployment runs on the code's defaults: where the Bicep replaces a
 * default of app-settings.json (NIGHTLY_REPORT_SCHEDULE, from an azd parameter), its own default must agree.
 */
function settingValueProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  const settings = azureAppSettings(f);
  for (const [name, value] of Object.entries(settings))
    if (typeof value !== 'string' && !(value instanceof Deferred))
      problems.push(`app setting ${name} is ${JSON.stringify(value)}, not a string`);
  const codeDefaults = infraData()[APP_SETTINGS_FILE] as Record<string, string>;
  for (const [name, codeDefault] of Object.entries(codeDefaults)) {
    const value = settings[name];
    if (value !== undefined && value !== codeDefault && !(value instanceof Deferred))
      problems.push(`${name} is ${JSON.stringify(value)} in a default deployment, the code's default is ${JSON.stringify(codeDefault)}`);
  }
  return problems;
}

/** %NAME% in host.json and in the registered functions' bindings (timer schedules, paths, queue names). */
function placeholderNames(hostJson: string, functions: RegisteredFunction[]): Set<string> {
  const texts = [hostJson, JSON.stringify(functions.map((fn) => fn.bindings))];
  return new Set(texts.flatMap((t) => [...t.matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]!)));
}

function placeholderProblems(f: DeployFiles, functions: RegisteredFunction[]): string[] {
  const problems: string[] = [];
  try {
    JSON.parse(f.hostJson);
  } catch (error) {
    return [`host.json is not JSON: ${(error as Error).message}`];
  }
  const bicep = bicepSettingNames(f);
  const local = new Set(Object.keys(localValues(f)));
  for (const name of placeholderNames(f.hostJson, functions)) {
    if (!bicep.has(name)) problems.push(`%${name}% is used but the Bicep app settings do not set ${name}`);
    if (!local.has(name)) problems.push(`%${name}% is used but local.settings.sample.json does not set ${name}`);
  }
  return problems;
}

/** The names (evaluated, deployment-time ones left out) of the resources of `type` a module deploys. */
function createdNames(module: Template, type: string): string[] {
  return module
    .resources()
    .filter((r) => r.type === type)
    .map((r) => r.property('name'))
    .filter((name): name is string => typeof name === 'string');
}

const COSMOS_DATABASE_TYPE = 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases';
const COSMOS_CONTAINER_TYPE = 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers';

function containerProblems(f: DeployFiles, functions: RegisteredFunction[]): string[] {
  const problems: string[] = [];
  const main = mainTemplate(f, DEFAULT_DEPLOYMENT);
  const storage = main.module(moduleSymbol(main, 'app/storage.bicep'));
  const blobContainers = new Set(createdNames(storage, 'Microsoft.Storage/storageAccounts/blobServices/containers'));
  for (const name of Object.values(BLOB_CONTAINERS))
    if (!blobContainers.has(name)) problems.push(`blob container ${name} (names.ts) is not created by infra/app/storage.bicep`);
  const queues = new Set(createdNames(storage, 'Microsoft.Storage/storageAccounts/queueServices/queues'));
  for (const name of Object.values(QUEUES))
    if (!queues.has(name)) problems.push(`queue ${name} (names.ts) is not created by infra/app/storage.bicep`);
  // What the triggers read exists too: their queues, and the container the blob trigger watches.
  for (const fn of functions) {
    const queueName = fn.trigger.type === 'queueTrigger' ? String(fn.trigger['queueName']) : undefined;
    if (queueName && !queues.has(queueName) && !HOST_CREATED_QUEUES[queueName])
      problems.push(`function ${fn.name} reads queue ${queueName}, which neither the Bicep nor the host creates`);
    const container = fn.trigger.type === 'blobTrigger' ? String(fn.trigger['path']).split('/')[0]! : undefined;
    if (container && !blobContainers.has(container))
      problems.push(`function ${fn.name} watches blob container ${container}, which the Bicep does not create`);
  }

  const cosmos = main.module(moduleSymbol(main, 'app/cosmos.bicep'));
  const containers = new Map(
    cosmos
      .resources()
      .filter((r) => r.type === COSMOS_CONTAINER_TYPE)
      .map((r) => {
        const name = r.property('name');
        if (r.property('properties', 'resource', 'id') !== name)
          problems.push(`Cosmos DB container ${String(name)}: resource.id differs from its name`);
        return [name, r.property('properties', 'resource', 'partitionKey', 'paths')] as const;
      }),
  );
  for (const spec of Object.values(COSMOS_CONTAINERS)) {
    const paths = containers.get(spec.id);
    if (paths === undefined) problems.push(`Cosmos DB container ${spec.id} (names.ts) is not created by infra/app/cosmos.bicep`);
    else if (JSON.stringify(paths) !== JSON.stringify([spec.partitionKey]))
      problems.push(
        `Cosmos DB container ${spec.id}: partition key ${JSON.stringify(paths)} in the Bicep, ${spec.partitionKey} in names.ts`,
      );
  }
  const databases = cosmos.resources().filter((r) => r.type === COSMOS_DATABASE_TYPE);
  const databaseNames = databases.map((r) => r.property('name'));
  for (const db of databases)
    if (db.property('properties', 'resource', 'id') !== db.property('name'))
      problems.push(`Cosmos DB database ${String(db.property('name'))}: resource.id differs from its name`);
  const codeDefault = loadSettings({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    COSMOS_ENDPOINT: 'https://x.documents.azure.com:443/',
  }).cosmos.database;
  const azureDatabase = simulatedAzureEnv(f)[SETTING_NAMES.cosmosDatabase] ?? codeDefault;
  for (const [what, name] of [
    ["the app's default database", codeDefault],
    ['the COSMOS_DATABASE app setting', azureDatabase],
  ] as const) {
    if (!databaseNames.includes(name))
      problems.push(`${what} is ${name}, but infra/app/cosmos.bicep creates ${databaseNames.map(String).join(', ') || 'no database'}`);
  }
  return problems;
}

function eventGridProblems(f: DeployFiles, functions: RegisteredFunction[]): string[] {
  const problems: string[] = [];
  const eventGridBlobs = functions.filter((fn) => fn.trigger.type === 'blobTrigger' && fn.trigger['source'] === 'EventGrid');
  if (eventGridBlobs.length !== 1) return [`expected one Event Grid blob trigger, found ${eventGridBlobs.length}`];
  const { name, trigger } = eventGridBlobs[0]!;
  const container = String(trigger['path']).split('/')[0]!;
  const main = mainTemplate(f, DEFAULT_DEPLOYMENT);
  const outputs = main.file.outputs;
  const output = (key: string) => (outputs.has(key) ? main.output(key) : undefined);
  if (output('BLOB_TRIGGER_FUNCTION_NAME') !== name)
    problems.push(
      `main.bicep output BLOB_TRIGGER_FUNCTION_NAME is ${JSON.stringify(output('BLOB_TRIGGER_FUNCTION_NAME'))}, the registered blob function is ${name}`,
    );
  if (output('EVENTGRID_DEADLETTER_CONTAINER_NAME') !== BLOB_CONTAINERS.eventGridDeadLetters)
    problems.push(`main.bicep output EVENTGRID_DEADLETTER_CONTAINER_NAME is not ${BLOB_CONTAINERS.eventGridDeadLetters}`);
  if (output('IMAGES_CONTAINER_NAME') !== container)
    problems.push(
      `main.bicep output IMAGES_CONTAINER_NAME is ${JSON.stringify(output('IMAGES_CONTAINER_NAME'))}, the blob trigger watches ${container}`,
    );
  if (trigger['connection'] !== 'AzureWebJobsStorage')
    problems.push(
      `the blob trigger uses connection ${String(trigger['connection'])}; the Event Grid topic is on the AzureWebJobsStorage account`,
    );
  // The system topic is on the account the app's AzureWebJobsStorage points at: both take the storage module's.
  const storage = moduleSymbol(main, 'app/storage.bicep');
  const topicSource = moduleParam(main, 'app/eventgrid.bicep', 'storageAccountId');
  if (!topicSource || printExpr(topicSource) !== `${storage}.outputs.id`)
    problems.push("the Event Grid system topic is not on the storage module's account");
  const appStorage = moduleParam(main, 'app/function-app.bicep', 'storageAccountName');
  if (!appStorage || printExpr(appStorage) !== `${storage}.outputs.name`)
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
    // Undeliverable events are kept (dead-lettered into the container the sweep replays), not dropped after 24 h.
    const attempts = /--max-delivery-attempts (\d+)/.exec(hook);
    if (!attempts || Number(attempts[1]) < 1 || Number(attempts[1]) > 30) problems.push(`${file}: no --max-delivery-attempts from 1 to 30`);
    if (!/--event-ttl \d+/.test(hook)) problems.push(`${file}: no --event-ttl`);
    if (!hook.includes('--deadletter-identity systemassigned'))
      problems.push(`${file}: no dead-letter destination written as the topic's identity`);
    if (
      !/--deadletter-identity-endpoint "\$\{?(STORAGE_ID|storageId)\}?\/blobServices\/default\/containers\/\$\{?(DEADLETTER_CONTAINER|deadLetterContainer)\}?"/.test(
        hook,
      )
    )
      problems.push(`${file}: the dead-letter endpoint is not <storage account id>/blobServices/default/containers/<container>`);
    const deadLetterDefault = /EVENTGRID_DEADLETTER_CONTAINER_NAME(?::-| \} else \{ ')([a-z0-9-]+)/.exec(hook)?.[1];
    if (deadLetterDefault !== BLOB_CONTAINERS.eventGridDeadLetters)
      problems.push(
        `${file}: the default dead-letter container is ${deadLetterDefault}, names.ts says ${BLOB_CONTAINERS.eventGridDeadLetters}`,
      );
    // Every azd environment value the hook reads is an output of main.bicep.
    // (sh: ${NAME:-...} / ${NAME:?...} expansions; PowerShell: $env:NAME.)
    const used = new Set([...hook.matchAll(/\$\{([A-Z][A-Z0-9_]+):[-?]|\$env:([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]!));
    if (used.size < 5) problems.push(`${file} reads only ${[...used].join(', ')} from the azd environment`);
    for (const value of used) if (!outputs.has(value)) problems.push(`${file} reads ${value}, which main.bicep does not output`);
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
  // Native packages (sharp, onnxruntime-node) must be installed for Linux x64, whatever machine deploys.
  if (!/^\s*remoteBuild:\s*true\s*$/m.test(service[2]!))
    problems.push(`azure.yaml service ${service[1]} is built on the deployer's machine (remoteBuild: true is missing)`);
  // azd finds the app to deploy by its tag, as the deployment would set it.
  const main = mainTemplate(f, DEFAULT_DEPLOYMENT);
  const sites = main
    .module(moduleSymbol(main, 'app/function-app.bicep'))
    .resources()
    .filter((r) => r.type === 'Microsoft.Web/sites');
  const tagged = sites.some((site) => {
    const tags = site.property('tags');
    return (
      typeof tags === 'object' &&
      tags !== null &&
      !Array.isArray(tags) &&
      !(tags instanceof Deferred) &&
      tags['azd-service-name'] === service[1]
    );
  });
  if (!tagged) problems.push(`the function app is not tagged azd-service-name: ${service[1]} (azd would not find it)`);
  const infra = /^infra:\s*\n((?:\s+.*\n?)+)/m.exec(f.azureYaml)?.[1] ?? '';
  const infraPath = /path:\s*(\S+)/.exec(infra)?.[1] ?? 'infra';
  const infraModule = /module:\s*(\S+)/.exec(infra)?.[1] ?? 'main';
  if (!exists(`${infraPath}/${infraModule}.bicep`)) problems.push(`azure.yaml infra ${infraPath}/${infraModule}.bicep does not exist`);
  if (!exists(`${infraPath}/${infraModule}.parameters.json`))
    problems.push(`azure.yaml infra ${infraPath}/${infraModule}.parameters.json does not exist`);
  return problems;
}

/** Every module main.bicep uses exists and gets exactly the parameters it declares (all required ones). */
function moduleProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  const main = parseBicep(f.infra['main.bicep']!);
  const used = new Set<string>();
  for (const decl of main.modules.values()) {
    const file = path.posix.normalize(decl.path);
    used.add(file);
    if (f.infra[file] === undefined) {
      problems.push(`module ${decl.symbol} uses infra/${file}, which does not exist`);
      continue;
    }
    const declared = parseBicep(f.infra[file]).params;
    const body = decl.body.kind === 'if' ? decl.body.body : decl.body;
    const params = body.kind === 'object' ? body.entries.find((e) => e.key === 'params')?.value : undefined;
    if (params && params.kind !== 'object') problems.push(`module ${decl.symbol}: params is not an object literal`);
    const given = params?.kind === 'object' ? params.entries.map((e) => e.key) : [];
    for (const name of given)
      if (!declared.has(name)) problems.push(`module ${decl.symbol} (${file}) is given ${name}, which it does not declare`);
    for (const param of declared.values())
      if (!param.defaultValue && !given.includes(param.name)) problems.push(`module ${decl.symbol} (${file}) needs ${param.name}`);
  }
  for (const file of Object.keys(f.infra))
    if (/^app\/[^/]+\.bicep$/.test(file) && !used.has(file)) problems.push(`infra/${file} is not used by main.bicep`);
  const parameters = JSON.parse(f.infra['main.parameters.json']!) as { parameters: Record<string, unknown> };
  for (const name of Object.keys(parameters.parameters))
    if (!main.params.has(name)) problems.push(`main.parameters.json sets ${name}, which main.bicep does not declare`);
  return problems;
}

/**
 * The host tries a blob `extensions.blobs.poisonBlobThreshold` times (blob extension v5; default 5), then poisons
 * it; a label request queue message `extensions.queues.maxDequeueCount` times. The app gives up (stores `failed`)
 * on try LABEL_MAX_ATTEMPTS, and must do so first or together on both paths, so the poison queues are the exception.
 */
function attemptProblems(f: DeployFiles): string[] {
  const problems: string[] = [];
  const host = JSON.parse(f.hostJson) as {
    extensions?: { blobs?: { poisonBlobThreshold?: number }; queues?: { maxDequeueCount?: number } };
  };
  const blobTries = host.extensions?.blobs?.poisonBlobThreshold ?? 5;
  const queueTries = host.extensions?.queues?.maxDequeueCount ?? 5;
  if (blobTries !== HOST_MAX_ATTEMPTS)
    problems.push(`the local blob trigger tries ${HOST_MAX_ATTEMPTS} times, host.json blobs.poisonBlobThreshold says ${blobTries}`);
  for (const [where, values] of [
    ['Azure', simulatedAzureEnv(f)],
    ['local', localValues(f)],
  ] as const) {
    const attempts = loadSettings(values).maxLabelAttempts;
    if (attempts > blobTries) problems.push(`${where}: LABEL_MAX_ATTEMPTS ${attempts} > host.json blobs.poisonBlobThreshold ${blobTries}`);
    if (attempts > queueTries) problems.push(`${where}: LABEL_MAX_ATTEMPTS ${attempts} > host.json queues.maxDequeueCount ${queueTries}`);
  }
  if (queueTries !== MAX_DEQUEUE_COUNT)
    problems.push(
      `the label-requests handler's last delivery is ${MAX_DEQUEUE_COUNT}, host.json queues.maxDequeueCount says ${queueTries}`,
    );
  // The sweep must not take an image whose try may still be running: a try lasts at most functionTimeout.
  const timeout = /^(\d+):(\d+):(\d+)$/.exec((JSON.parse(f.hostJson) as { functionTimeout?: string }).functionTimeout ?? '');
  const timeoutMs = timeout ? ((Number(timeout[1]) * 60 + Number(timeout[2])) * 60 + Number(timeout[3])) * 1000 : Infinity;
  for (const [where, env] of [
    ['Azure', simulatedAzureEnv(f)],
    ['local', localValues(f)],
  ] as const) {
    const graceMs = loadSettings(env).sweep.graceMs;
    if (graceMs < timeoutMs)
      problems.push(`${where}: BATCH_SWEEP_GRACE_MINUTES ${graceMs / 60_000} is shorter than host.json functionTimeout`);
  }
  return problems;
}

/** Every check at once: what a reformatted template must still pass. */
function allProblems(f: DeployFiles, functions: RegisteredFunction[]): string[] {
  return [
    ...generatedDataProblems(f),
    ...settingsCoverageProblems(f),
    ...settingValueProblems(f),
    ...placeholderProblems(f, functions),
    ...containerProblems(f, functions),
    ...eventGridProblems(f, functions),
    ...azureYamlProblems(f),
    ...moduleProblems(f),
    ...attemptProblems(f),
  ];
}

// ------------------------------------------------------------------------------------------------ the tests

let functions: RegisteredFunction[];
before(() => {
  functions = registeredFunctions();
});

test('the data the templates load (app-settings.json, data-resources.json) is generated from the code and loaded', () => {
  const real = realFiles();
  assert.deepEqual(generatedDataProblems(real), []);
  const staleQueue = mutateJson(real, 'app/data-resources.json', (d) => d.queues.pop());
  assert.match(generatedDataProblems(staleQueue).join('\n'), /infra\/app\/data-resources\.json is stale .*: run npm run infra:data/);
  const staleDefault = mutateJson(real, 'app/app-settings.json', (d) => (d.LABEL_MAX_ATTEMPTS = '3'));
  assert.match(generatedDataProblems(staleDefault).join('\n'), /infra\/app\/app-settings\.json is stale/);
  const { ['app/app-settings.json']: _removed, ...withoutFile } = real.infra;
  assert.match(generatedDataProblems({ ...real, infra: withoutFile }).join('\n'), /app-settings\.json is missing/);
  assert.match(
    generatedDataProblems({ ...real, infra: { ...real.infra, 'app/app-settings.json': '{' } }).join('\n'),
    /app-settings\.json is not JSON/,
  );
  // A template that stops loading the file (the settings written out by hand instead) is caught.
  const notLoaded = mutateInfra(real, 'app/function-app.bicep', "union(loadJsonContent('app-settings.json'),", 'union({},');
  assert.match(generatedDataProblems(notLoaded).join('\n'), /app-settings\.json is generated but no template loads it/);
});

test('settings: every setting the app reads is provided (or left out for a stated reason), every provided one is read', () => {
  assert.deepEqual(settingsCoverageProblems(realFiles()), []);
});

test('settings check fails on a setting nobody provides, one nobody reads, a stale exception, a Flex-unsupported one', () => {
  const real = realFiles();
  const withSetting = (line: string) =>
    mutateInfra(real, 'app/function-app.bicep', 'COSMOS_ENDPOINT: cosmosEndpoint', `COSMOS_ENDPOINT: cosmosEndpoint\n  ${line}`);
  // The app starts reading a new setting that neither file sets.
  assert.match(
    settingsCoverageProblems(real, [...settingNames(), 'NEW_SETTING']).join('\n'),
    /NEW_SETTING is read by the app but set neither/,
  );
  // The Bicep sets something nobody reads.
  assert.match(
    settingsCoverageProblems(withSetting('COSMOS_ENDPIONT: cosmosEndpoint')).join('\n'),
    /Bicep sets COSMOS_ENDPIONT, which neither/,
  );
  // A setting only the deployment knows, dropped from the Bicep.
  const dropped = mutateInfra(real, 'app/function-app.bicep', 'AZURE_CLIENT_ID: identityClientId', '');
  assert.match(settingsCoverageProblems(dropped).join('\n'), /AZURE_CLIENT_ID is read by the app but missing from the Bicep/);
  // A default dropped from the generated file (also stale: see the first test).
  const noDefault = mutateJson(real, 'app/app-settings.json', (d) => delete d.LABEL_MAX_ATTEMPTS);
  assert.match(settingsCoverageProblems(noDefault).join('\n'), /LABEL_MAX_ATTEMPTS is read by the app but missing from the Bicep/);
  // A commented-out setting does not count.
  const commented = mutateInfra(
    real,
    'app/function-app.bicep',
    'AZURE_CLIENT_ID: identityClientId',
    '// AZURE_CLIENT_ID: identityClientId',
  );
  assert.match(settingsCoverageProblems(commented).join('\n'), /AZURE_CLIENT_ID is read by the app but missing from the Bicep/);
  // The local sample sets something nobody reads, and loses a setting.
  const local = JSON.parse(real.localSettings) as { Values: Record<string, string> };
  local.Values['AUTOLABEL_CONFG'] = '{}';
  delete local.Values['COSMOS_KEY'];
  const badLocal = settingsCoverageProblems({ ...real, localSettings: JSON.stringify(local) }).join('\n');
  assert.match(badLocal, /local\.settings\.sample\.json sets AUTOLABEL_CONFG, which neither/);
  assert.match(badLocal, /COSMOS_KEY is read by the app but missing from local\.settings\.sample\.json/);
  // An exception that became stale: the Bicep now sets COSMOS_KEY.
  assert.match(
    settingsCoverageProblems(withSetting("COSMOS_KEY: 'x'")).join('\n'),
    /AZURE_OMITTED lists COSMOS_KEY, but it is set after all/,
  );
  // A Flex-unsupported setting.
  assert.match(
    settingsCoverageProblems(withSetting("FUNCTIONS_WORKER_RUNTIME: 'node'")).join('\n'),
    /FUNCTIONS_WORKER_RUNTIME, which Flex Consumption does not support/,
  );
  // A setting said to be read elsewhere, by a file that does not read it.
  assert.match(
    settingsCoverageProblems(real, settingNames(), () => '').join('\n'),
    /READ_BY_CODE_ELSEWHERE says .* reads AUTOLABEL_CACHE_DIR, but it does not/,
  );
  // The settings must reach the app: a config resource that applies something else leaves every setting missing.
  const notApplied = mutateInfra(real, 'app/function-app.bicep', 'properties: appSettings', 'properties: {}');
  assert.match(settingsCoverageProblems(notApplied).join('\n'), /COSMOS_ENDPOINT is read by the app but missing from the Bicep/);
});

test('settings: app settings are strings, and a default deployment runs on the code defaults', () => {
  const real = realFiles();
  assert.deepEqual(settingValueProblems(real), []);
  const otherSchedule = mutateInfra(
    real,
    'main.bicep',
    "param nightlySchedule string = '0 0 2 * * *'",
    "param nightlySchedule string = '0 0 3 * * *'",
  );
  assert.match(
    settingValueProblems(otherSchedule).join('\n'),
    /NIGHTLY_REPORT_SCHEDULE is "0 0 3 \* \* \*" in a default deployment, the code's default is "0 0 2 \* \* \*"/,
  );
  const overridden = mutateInfra(
    real,
    'app/function-app.bicep',
    'TASK_HUB_NAME: taskHubName',
    "TASK_HUB_NAME: taskHubName\n  LABEL_MAX_ATTEMPTS: '7'",
  );
  assert.match(settingValueProblems(overridden).join('\n'), /LABEL_MAX_ATTEMPTS is "7" in a default deployment, the code's default is "5"/);
  const number = mutateJson(real, 'app/app-settings.json', (d) => (d.EVALUATION_CHUNK_SIZE = 100));
  assert.match(settingValueProblems(number).join('\n'), /app setting EVALUATION_CHUNK_SIZE is 100, not a string/);
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
      if (settings.labeling.scene.provider === 'openai') {
        // The v1 API of the account (no api-version), the deployment as the model, and its request rules.
        assert.match(settings.labeling.scene.baseURL ?? '', /\/openai\/v1$/);
        // The deployment name is the OpenAI module's output, evaluated through the module.
        assert.equal(settings.labeling.scene.model, 'scene-classifier');
        assert.equal(settings.labeling.scene.family, 'reasoning');
      }
      assert.equal(settings.nightly.schedule, '0 0 2 * * *');
      assert.equal(
        env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING'],
        'ClientId=placeholder;Authorization=AAD',
        'the identity is known at deployment',
      );
    }
  }
  // Every instance size main.bicep allows gives a valid worker count (1 or 2 worker threads).
  const main = mainTemplate(real);
  const allowed = main.file.params.get('instanceMemoryMB')?.decorators.find((d) => d.name === 'allowed');
  assert.ok(allowed, 'main.bicep: @allowed([...]) param instanceMemoryMB');
  const sizes = main.evaluate(allowed.args[0]!) as number[];
  assert.ok(sizes.length >= 2, String(sizes));
  const workers = sizes.map((size) => {
    const env = simulatedAzureEnv(real, { ...DEFAULT_DEPLOYMENT, instanceMemoryMB: size });
    return resolveLocalWorkers(undefined, env);
  });
  assert.deepEqual([...new Set(workers)].sort(), [1, 2]);
  // And a worker count the app refuses is caught.
  const negative = mutateInfra(real, 'app/function-app.bicep', 'instanceMemoryMB == 4096 ? 2 : 1', 'instanceMemoryMB == 4096 ? 2 : -1');
  assert.throws(
    () => resolveLocalWorkers(undefined, simulatedAzureEnv(negative, { ...DEFAULT_DEPLOYMENT, instanceMemoryMB: 2048 })),
    /AUTOLABEL_LOCAL_WORKERS must be a whole number/,
  );
});

test('settings: a labeling config the Bicep builds wrongly is caught', () => {
  const real = realFiles();
  const typo = mutateInfra(real, 'main.bicep', 'family: openAiModelFamily', 'familly: openAiModelFamily');
  assert.throws(() => loadSettings(simulatedAzureEnv(typo, { deployOpenAi: true, deployVision: false })), /familly/);
  const wrongFamily = mutateInfra(
    real,
    'main.bicep',
    "param openAiModelFamily string = 'reasoning'",
    "param openAiModelFamily string = 'thinking'",
  );
  assert.throws(() => loadSettings(simulatedAzureEnv(wrongFamily, { deployOpenAi: true, deployVision: false })), /family/);
  const badApi = mutateInfra(real, 'main.bicep', "param visionApi string = '4.0'", "param visionApi string = '4'");
  assert.throws(() => loadSettings(simulatedAzureEnv(badApi, { deployOpenAi: false, deployVision: true })), /detector\.api/);
  const keyAuth = mutateInfra(real, 'main.bicep', "api: visionApi auth: { type: 'entra' }", "api: visionApi\n  auth: { type: 'key' }");
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
  const names = placeholderNames(real.hostJson, functions);
  assert.ok(names.has('TASK_HUB_NAME') && names.has('NIGHTLY_REPORT_SCHEDULE') && names.has('BATCH_SWEEP_SCHEDULE'), [...names].join(', '));
  assert.deepEqual(placeholderProblems(real, functions), []);
  // Mutations: a new %NAME% nobody sets (in host.json, in a trigger); broken JSON.
  const mutated = { ...real, hostJson: real.hostJson.replace('"%TASK_HUB_NAME%"', '"%DURABLE_HUB%"') };
  const problems = placeholderProblems(mutated, functions).join('\n');
  assert.match(problems, /%DURABLE_HUB% is used but the Bicep app settings do not set DURABLE_HUB/);
  assert.match(problems, /%DURABLE_HUB% is used but local\.settings\.sample\.json does not set DURABLE_HUB/);
  const timer: RegisteredFunction = {
    name: 'hourlyTimer',
    trigger: { type: 'timerTrigger', direction: 'in', name: 't', schedule: '%HOURLY_SCHEDULE%' },
    bindings: [{ type: 'timerTrigger', direction: 'in', name: 't', schedule: '%HOURLY_SCHEDULE%' }],
  };
  assert.match(placeholderProblems(real, [...functions, timer]).join('\n'), /%HOURLY_SCHEDULE% is used but the Bicep/);
  assert.match(placeholderProblems({ ...real, hostJson: `${real.hostJson},` }, functions).join('\n'), /host\.json is not JSON/);
});

test('the app stores `failed` no later than the host gives up (LABEL_MAX_ATTEMPTS <= blobs.poisonBlobThreshold, queues.maxDequeueCount)', () => {
  const real = realFiles();
  assert.deepEqual(attemptProblems(real), []);
  const blobsGiveUpFirst = { ...real, hostJson: real.hostJson.replace('"poisonBlobThreshold": 5', '"poisonBlobThreshold": 3') };
  const problems = attemptProblems(blobsGiveUpFirst).join('\n');
  assert.match(problems, /Azure: LABEL_MAX_ATTEMPTS 5 > host\.json blobs\.poisonBlobThreshold 3/);
  assert.match(problems, /the local blob trigger tries 5 times, host\.json blobs\.poisonBlobThreshold says 3/);
  // Not set: the extension's default (5) applies; the queue setting does not stand in for it.
  const unset = {
    ...real,
    hostJson: real.hostJson.replace(/,\s*"poisonBlobThreshold": 5/, '').replace('"maxDequeueCount": 5', '"maxDequeueCount": 3'),
  };
  const unsetProblems = attemptProblems(unset).join('\n');
  assert.doesNotMatch(unsetProblems, /poisonBlobThreshold/);
  assert.match(unsetProblems, /Azure: LABEL_MAX_ATTEMPTS 5 > host\.json queues\.maxDequeueCount 3/);
  const longTries = { ...real, hostJson: real.hostJson.replace('"functionTimeout": "00:10:00"', '"functionTimeout": "00:30:00"') };
  assert.match(attemptProblems(longTries).join('\n'), /Azure: BATCH_SWEEP_GRACE_MINUTES 10 is shorter than host\.json functionTimeout/);
  const local = JSON.parse(real.localSettings) as { Values: Record<string, string> };
  local.Values['LABEL_MAX_ATTEMPTS'] = '7';
  assert.match(
    attemptProblems({ ...real, localSettings: JSON.stringify(local) }).join('\n'),
    /local: LABEL_MAX_ATTEMPTS 7 > host\.json blobs\.poisonBlobThreshold 5/,
  );
});

test('every blob container, queue and Cosmos DB container (with its partition key) of names.ts is created by the Bicep', () => {
  const real = realFiles();
  assert.deepEqual(containerProblems(real, functions), []);
  const noQueue = mutateJson(real, 'app/data-resources.json', (d) => (d.queues = []));
  assert.match(containerProblems(noQueue, functions).join('\n'), /queue label-requests \(names\.ts\) is not created/);
  const dataNotUsed = mutateInfra(
    real,
    'app/storage.bicep',
    'concat(dataResources.blobContainers, [deploymentContainerName])',
    '[deploymentContainerName]',
  );
  assert.match(containerProblems(dataNotUsed, functions).join('\n'), /blob container groundtruth \(names\.ts\) is not created/);
  assert.match(
    containerProblems(dataNotUsed, functions).join('\n'),
    /function labelImageBlob watches blob container images, which the Bicep does not create/,
  );
  const wrongKey = mutateInfra(real, 'app/cosmos.bicep', 'paths: [container.partitionKey]', "paths: ['/batchId']");
  assert.match(
    containerProblems(wrongKey, functions).join('\n'),
    /Cosmos DB container reports: partition key \["\/batchId"\] in the Bicep, \/id in names\.ts/,
  );
  const wrongKeyInData = mutateJson(real, 'app/data-resources.json', (d) => (d.cosmos.containers[2].partitionKey = '/batchId'));
  assert.match(containerProblems(wrongKeyInData, functions).join('\n'), /Cosmos DB container reports: partition key/);
  const noLabels = mutateJson(real, 'app/data-resources.json', (d) => d.cosmos.containers.shift());
  assert.match(containerProblems(noLabels, functions).join('\n'), /Cosmos DB container labels \(names\.ts\) is not created/);
  const otherDb = mutateInfra(real, 'app/cosmos.bicep', 'name: cosmosData.database', "name: 'labels'");
  const otherDbProblems = containerProblems(otherDb, functions).join('\n');
  assert.match(otherDbProblems, /the app's default database is autolabel, but infra\/app\/cosmos\.bicep creates labels/);
  assert.match(otherDbProblems, /Cosmos DB database labels: resource\.id differs from its name/);
  const otherSetting = mutateJson(real, 'app/app-settings.json', (d) => (d.COSMOS_DATABASE = 'labels'));
  assert.match(
    containerProblems(otherSetting, functions).join('\n'),
    /the COSMOS_DATABASE app setting is labels, but .* creates autolabel/,
  );
  // A trigger on a queue that nobody creates.
  const retries: RegisteredFunction = {
    name: 'retryQueue',
    trigger: { type: 'queueTrigger', direction: 'in', name: 'q', queueName: 'label-retries' },
    bindings: [],
  };
  assert.match(
    containerProblems(real, [...functions, retries]).join('\n'),
    /function retryQueue reads queue label-retries, which neither the Bicep nor the host creates/,
  );
});

/**
 * Who holds which data role where, as the templates grant it (a deployer's principal id given, so its optional
 * assignments are in): `scope` names the declared resource the role is scoped to.
 */
function roleGrants(f: DeployFiles): Array<{ module: string; holder: string; role: string; scopeType: string; scopeName: string }> {
  const main = mainTemplate(f, { ...DEFAULT_DEPLOYMENT, principalId: 'deployer-object-id' });
  const grants = [];
  for (const file of ['app/rbac.bicep', 'app/cosmos.bicep']) {
    const module = main.module(moduleSymbol(main, file));
    const declared = module.resources();
    for (const r of declared.filter((d) => /roleAssignments$/i.test(d.type))) {
      const principal = r.property('properties', 'principalId');
      const holder =
        principal === 'deployer-object-id'
          ? 'deployer'
          : principal instanceof Deferred && /eventGrid|systemTopic/i.test(principal.source)
            ? 'event grid'
            : 'app';
      const role = String(
        r.property('properties', 'roleDefinitionId') instanceof Deferred
          ? (r.property('properties', 'roleDefinitionId') as Deferred).source
          : r.property('properties', 'roleDefinitionId'),
      );
      const scope = r.type.startsWith('Microsoft.DocumentDB') ? r.property('properties', 'scope') : r.property('scope');
      const source = scope instanceof Deferred ? scope.source : String(scope);
      const target = declared.find((d) => d.decl.symbol === source);
      grants.push({
        module: file,
        holder,
        role,
        scopeType: target ? target.type : /\/dbs\//.test(source) ? 'cosmos database' : source,
        scopeName: target ? String(target.property('name')) : source,
      });
    }
  }
  return grants;
}

test('narrowest scopes: Cosmos DB roles on the database; the deployer on the containers it uploads to; Event Grid on its dead letters', () => {
  const grants = roleGrants(realFiles());
  const cosmos = grants.filter((g) => g.module === 'app/cosmos.bicep');
  assert.equal(cosmos.length, 2);
  assert.deepEqual(
    cosmos.map((g) => g.scopeType),
    ['cosmos database', 'cosmos database'],
  );
  const deployer = grants.filter((g) => g.module === 'app/rbac.bicep' && g.holder === 'deployer');
  assert.deepEqual(
    deployer
      .map(
        (g) =>
          `${g.scopeName}: ${/storageBlobDataReader/.test(g.role) ? 'reader' : /storageBlobDataContributor/.test(g.role) ? 'contributor' : g.role}`,
      )
      .sort(),
    ['groundtruth: contributor', 'images: contributor', 'reports: reader'],
  );
  assert.ok(deployer.every((g) => g.scopeType === 'Microsoft.Storage/storageAccounts/blobServices/containers'));
  const eventGrid = grants.filter((g) => g.holder === 'event grid');
  assert.deepEqual(
    eventGrid.map((g) => g.scopeName),
    [BLOB_CONTAINERS.eventGridDeadLetters],
  );
  // The check can fail: an account-wide scope for the deployer is seen.
  const wide = mutateInfra(realFiles(), 'app/rbac.bicep', 'scope: reportsContainer', 'scope: storage');
  assert.ok(roleGrants(wide).some((g) => g.holder === 'deployer' && g.scopeType === 'Microsoft.Storage/storageAccounts'));
});

test('the Event Grid subscription hook targets the registered blob function and its container', () => {
  const real = realFiles();
  assert.deepEqual(eventGridProblems(real, functions), []);
  const renamed = mutateInfra(
    real,
    'main.bicep',
    "output BLOB_TRIGGER_FUNCTION_NAME string = 'labelImageBlob'",
    "output BLOB_TRIGGER_FUNCTION_NAME string = 'processImage'",
  );
  assert.match(
    eventGridProblems(renamed, functions).join('\n'),
    /BLOB_TRIGGER_FUNCTION_NAME is "processImage", the registered blob function is labelImageBlob/,
  );
  const shDefault = {
    ...real,
    postdeploySh: real.postdeploySh.replace('BLOB_TRIGGER_FUNCTION_NAME:-labelImageBlob}', 'BLOB_TRIGGER_FUNCTION_NAME:-labelImage}'),
  };
  assert.match(eventGridProblems(shDefault, functions).join('\n'), /postdeploy\.sh: the default function name/);
  const psFilter = {
    ...real,
    postdeployPs1: real.postdeployPs1.replace(
      '--subject-begins-with "/blobServices/default/containers/$container/"',
      '--subject-begins-with "/blobServices/default/containers/"',
    ),
  };
  assert.match(eventGridProblems(psFilter, functions).join('\n'), /postdeploy\.ps1: the subject filter/);
  const noOutput = mutateInfra(real, 'main.bicep', 'output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name', '');
  assert.match(
    eventGridProblems(noOutput, functions).join('\n'),
    /reads AZURE_EVENTGRID_SYSTEM_TOPIC_NAME, which main\.bicep does not output/,
  );
  const otherTopic = mutateInfra(real, 'main.bicep', 'storageAccountId: storage.outputs.id', "storageAccountId: 'other'");
  assert.match(eventGridProblems(otherTopic, functions).join('\n'), /system topic is not on the storage module's account/);
  const noEventGridTrigger = functions.filter((fn) => fn.trigger.type !== 'blobTrigger');
  assert.match(eventGridProblems(real, noEventGridTrigger).join('\n'), /expected one Event Grid blob trigger, found 0/);
});

test('azure.yaml: a function service at the root, tagged in the Bicep, and hooks that exist', () => {
  const real = realFiles();
  assert.deepEqual(azureYamlProblems(real), []);
  const missingHook = { ...real, azureYaml: real.azureYaml.replace('./infra/hooks/postdeploy.sh', './scripts/post-up.sh') };
  assert.match(azureYamlProblems(missingHook).join('\n'), /runs \.\/scripts\/post-up\.sh, which does not exist/);
  const otherService = { ...real, azureYaml: real.azureYaml.replace('\n  api:\n', '\n  processor:\n') };
  assert.match(azureYamlProblems(otherService).join('\n'), /not tagged azd-service-name: processor/);
  const otherTag = mutateInfra(real, 'app/function-app.bicep', "'azd-service-name': 'api'", "'azd-service-name': 'web'");
  assert.match(azureYamlProblems(otherTag).join('\n'), /not tagged azd-service-name: api/);
  assert.match(azureYamlProblems(real, () => false).join('\n'), /infra\/main\.bicep does not exist/);
});

test('the Bicep modules main.bicep references exist, and every module has the parameters it is given', () => {
  const real = realFiles();
  assert.deepEqual(moduleProblems(real), []);
  const cosmosName = "name: !empty(cosmosAccountName) ? cosmosAccountName : 'cosmos-${resourceToken}'";
  const extra = mutateInfra(real, 'main.bicep', cosmosName, `${cosmosName}\n    databaseName: 'autolabel'`);
  assert.match(moduleProblems(extra).join('\n'), /module cosmos \(app\/cosmos\.bicep\) is given databaseName, which it does not declare/);
  const missing = mutateInfra(real, 'main.bicep', 'cosmosEndpoint: cosmos.outputs.endpoint', '');
  assert.match(moduleProblems(missing).join('\n'), /module functionApp \(app\/function-app\.bicep\) needs cosmosEndpoint/);
  const renamedFile = mutateInfra(real, 'main.bicep', "module vision 'app/vision.bicep'", "module vision 'app/computer-vision.bicep'");
  const renamedProblems = moduleProblems(renamedFile).join('\n');
  assert.match(renamedProblems, /uses infra\/app\/computer-vision\.bicep, which does not exist/);
  assert.match(renamedProblems, /infra\/app\/vision\.bicep is not used by main\.bicep/);
  const parameters = JSON.parse(real.infra['main.parameters.json']!) as { parameters: Record<string, unknown> };
  parameters.parameters['databaseName'] = { value: 'x' };
  assert.match(
    moduleProblems({ ...real, infra: { ...real.infra, 'main.parameters.json': JSON.stringify(parameters) } }).join('\n'),
    /main\.parameters\.json sets databaseName, which main\.bicep does not declare/,
  );
});

// ------------------------------------------------------------------------------------------------ layout

/**
 * Re-emits a template's tokens (strings as written) with `separator(...)` before each: it sees the previous and the
 * next token, the open brackets, and the original gap (its spaces; a comment in it reads as one space).
 */
function relayout(text: string, separator: (previous: string | undefined, next: string, stack: string[], gap: string) => string): string {
  const stack: string[] = [];
  let out = '';
  let previous: string | undefined;
  let end = 0;
  for (const token of tokenize(text)) {
    const spelled = token.kind === 'newline' ? '\n' : text.slice(token.start, token.end);
    const original = text.slice(end, token.start);
    const gap = /^[ \t\r]*$/.test(original) ? original : ' ';
    out += separator(previous, spelled, stack, gap) + (spelled === '\n' ? '' : spelled);
    if (['{', '[', '[?', '('].includes(spelled)) stack.push(spelled);
    if (['}', ']', ')'].includes(spelled)) stack.pop();
    previous = spelled;
    end = token.kind === 'newline' ? token.start + 1 : token.end;
  }
  return out;
}

/** Three layouts a person or `bicep format` might give the same templates. */
const LAYOUTS: Record<string, (text: string) => string> = {
  // Tabs, CRLF, blank lines, spaces around every token, and comments between tokens and at line ends.
  spacedAndCommented: (text) =>
    relayout(text, (previous, next) => {
      if (next === '\n') return ' // a comment\r\n\r\n';
      if (previous === undefined || previous === '\n') return '\t';
      return previous === '=' ? ' /* c */ ' : '  ';
    }),
  // Every multi-line object and array on one line, items separated by commas.
  singleLine: (text) => {
    let beforeNewline: string | undefined;
    return relayout(text, (previous, next, stack, gap) => {
      if (next === '\n') {
        beforeNewline = previous;
        return stack.length ? '' : '\n';
      }
      if (previous !== '\n' || !stack.length) return gap;
      if (['}', ']', ')'].includes(next)) return ' ';
      return ['{', '[', '(', ','].includes(beforeNewline ?? '') ? ' ' : ', ';
    });
  },
  // Every call argument on its own line.
  argumentsPerLine: (text) =>
    relayout(text, (previous, next, stack, gap) => {
      if (next === '\n') return '\n';
      const inCall = stack[stack.length - 1] === '(';
      if (inCall && (previous === '(' || previous === ',')) return '\n    ';
      if (inCall && next === ')') return '\n';
      return gap;
    }),
};

test('reformatting the templates changes nothing: same syntax tree, every check passes, mutations still caught', () => {
  const real = realFiles();
  const templates = Object.keys(real.infra).filter((file) => file.endsWith('.bicep'));
  assert.ok(templates.length >= 10, templates.join(', '));
  for (const [layout, reformat] of Object.entries(LAYOUTS)) {
    const infra = { ...real.infra };
    for (const file of templates) {
      infra[file] = reformat(real.infra[file]!);
      assert.notEqual(infra[file], real.infra[file], `${layout} changes ${file}`);
      assert.equal(printFile(parseBicep(infra[file])), printFile(parseBicep(real.infra[file]!)), `${layout}: ${file} parses differently`);
    }
    const reformatted = { ...real, infra };
    assert.deepEqual(allProblems(reformatted, functions), [], layout);
    // The checks still bite on the reformatted templates (a rename: dropping an item would leave ", ," on one line).
    const renamed = mutateInfra(
      reformatted,
      'app/function-app.bicep',
      'AZURE_CLIENT_ID: identityClientId',
      'AZURE_CLIENT: identityClientId',
    );
    assert.match(settingsCoverageProblems(renamed).join('\n'), /AZURE_CLIENT_ID is read by the app but missing from the Bicep/, layout);
    const wrongKey = mutateInfra(reformatted, 'app/cosmos.bicep', 'paths: [container.partitionKey]', "paths: ['/batchId']");
    assert.match(containerProblems(wrongKey, functions).join('\n'), /Cosmos DB container reports: partition key/, layout);
  }
  // What the layouts look like (so a reader can see that they are real reformattings).
  const sample = "var a = {\n  b: union(c, { d: 'e' })\n  f: [\n    1\n    2\n  ]\n}\n";
  assert.equal(LAYOUTS['singleLine']!(sample), "var a = { b: union(c, { d: 'e' }), f: [ 1, 2 ] }\n");
  assert.equal(LAYOUTS['argumentsPerLine']!(sample), "var a = {\n  b: union(\n    c,\n    { d: 'e' }\n)\n  f: [\n    1\n    2\n  ]\n}\n");
  assert.equal(LAYOUTS['spacedAndCommented']!('var a = f(1)\n'), '\tvar  a  = /* c */ f  (  1  ) // a comment\r\n\r\n');
});
