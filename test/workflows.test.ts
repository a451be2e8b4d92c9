/**
 * The GitHub Actions workflows (.github/workflows) cannot run here, so this keeps them consistent with the project:
 * the Node version is the app's (package.json engines, infra/app/function-app.bicep), every script and file they
 * call exists, the deploy passes azd exactly the variables `azd pipeline config` sets and infra/main.parameters.json
 * reads (azure.yaml pipeline.variables), it signs in with federated credentials only, compiles and previews before
 * provisioning, and every action is pinned. Each check is a function returning its findings, run on the real files and
 * on a deliberately broken copy, so none can pass by finding nothing. The shell steps that refuse a run when the test
 * data or the Azure variables are missing are run for real with bash (a stand-in `az` for the download).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { parseBicep, type Expr } from './helpers/bicep';

const ROOT = path.resolve(__dirname, '..');
const WORKFLOWS_DIR = path.join(ROOT, '.github', 'workflows');
const CI_FILE = 'ci.yml';
/** The name `azd pipeline config` looks for (it writes its own template when the file is missing). */
const DEPLOY_FILE = 'azure-dev.yml';

/** The repository variables `azd pipeline config` sets for GitHub (with federated credentials). */
const AZD_PIPELINE_VARIABLES = ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_SUBSCRIPTION_ID', 'AZURE_ENV_NAME', 'AZURE_LOCATION'];
/** Parameters' variables azd fills in itself at provision time: the signed-in principal's object id. */
const AZD_FILLS_ITSELF = ['AZURE_PRINCIPAL_ID'];
/** Names of secrets that would be stored credentials: the deploy must need none (OIDC only). */
const CREDENTIAL_NAME = /KEY|PASSWORD|SECRET|CREDENTIAL|CONNECTION|SAS|TOKEN|CERT/i;

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  'runs-on'?: unknown;
  permissions?: unknown;
  environment?: unknown;
  env?: Record<string, unknown>;
  steps?: Step[];
}
interface Workflow {
  name?: string;
  on?: unknown;
  permissions?: unknown;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

interface Project {
  scripts: Record<string, string>;
  /** Node majors package.json `engines.node` allows. */
  engineMajors: number[];
  /** The Flex Consumption runtime's Node version the Bicep deploys. */
  bicepNodeVersion: string;
  /** `${VAR}` names infra/main.parameters.json reads (what azd substitutes). */
  parameterVariables: string[];
  azureYaml: any;
  infraReadme: string;
}

// ------------------------------------------------------------------------------------------------ reading

function parseWorkflow(text: string): Workflow {
  const workflow = parse(text) as Workflow;
  if (!workflow || typeof workflow.jobs !== 'object') throw new Error('not a workflow: no jobs');
  return workflow;
}

const workflowText = (file: string) => readFileSync(path.join(WORKFLOWS_DIR, file), 'utf8');

function literal(expr: Expr | undefined, what: string): string {
  if (expr?.kind !== 'string' || expr.parts.length !== 1 || typeof expr.parts[0] !== 'string')
    throw new Error(`${what} is not a string literal`);
  return expr.parts[0];
}

/** nodeVersion's default in function-app.bicep, unless main.bicep passes its own to the module. */
function bicepNodeVersion(): string {
  const read = (file: string) => parseBicep(readFileSync(path.join(ROOT, 'infra', file), 'utf8'));
  const app = read('app/function-app.bicep').params.get('nodeVersion');
  if (!app) throw new Error('infra/app/function-app.bicep has no nodeVersion parameter');
  let version = literal(app.defaultValue, 'function-app.bicep nodeVersion default');
  for (const module of read('main.bicep').modules.values()) {
    if (module.path !== 'app/function-app.bicep') continue;
    const body = module.body.kind === 'if' ? module.body.body : module.body;
    if (body.kind !== 'object') throw new Error('main.bicep: the function-app module body is not an object');
    const params = body.entries.find((entry) => entry.key === 'params')?.value;
    const passed = params?.kind === 'object' ? params.entries.find((entry) => entry.key === 'nodeVersion') : undefined;
    if (passed) version = literal(passed.value, 'main.bicep nodeVersion');
  }
  return version;
}

function loadProject(): Project {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const parameters = readFileSync(path.join(ROOT, 'infra', 'main.parameters.json'), 'utf8');
  return {
    scripts: pkg.scripts,
    engineMajors: (String(pkg.engines?.node ?? '').match(/\d+/g) ?? []).map(Number),
    bicepNodeVersion: bicepNodeVersion(),
    parameterVariables: [...new Set([...parameters.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))],
    azureYaml: parse(readFileSync(path.join(ROOT, 'azure.yaml'), 'utf8')),
    infraReadme: readFileSync(path.join(ROOT, 'infra', 'README.md'), 'utf8'),
  };
}

const steps = (workflow: Workflow): Step[] => Object.values(workflow.jobs).flatMap((job) => job.steps ?? []);
const runs = (workflow: Workflow): string[] => steps(workflow).flatMap((step) => (step.run ? [step.run] : []));

/** Every string value in the parsed workflow (comments are not values, so a comment cannot satisfy or trip a check). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, v]) => [key, ...strings(v)]);
  return [];
}

const referenced = (workflow: Workflow, context: 'vars' | 'secrets'): string[] => [
  ...new Set(strings(workflow).flatMap((s) => [...s.matchAll(new RegExp(`\\b${context}\\.([A-Za-z0-9_]+)`, 'g'))].map((m) => m[1]!))),
];

/** The environment a job's steps see from the workflow and job levels. */
const jobEnv = (workflow: Workflow, job: Job): Record<string, unknown> => ({ ...workflow.env, ...job.env });

/** Trigger names, whichever of the three spellings `on:` uses. */
function triggers(workflow: Workflow): string[] {
  const on = workflow.on;
  if (typeof on === 'string') return [on];
  if (Array.isArray(on)) return on.map(String);
  return on && typeof on === 'object' ? Object.keys(on) : [];
}

// ------------------------------------------------------------------------------------------------ checks

function nodeVersionProblems(workflow: Workflow, project: Project): string[] {
  const problems: string[] = [];
  const setups = steps(workflow).filter((step) => step.uses?.startsWith('actions/setup-node@'));
  if (setups.length === 0) problems.push("no actions/setup-node step: the runner's own Node would run the project");
  for (const step of setups) {
    const version = String(step.with?.['node-version'] ?? '');
    if (version !== project.bicepNodeVersion)
      problems.push(`setup-node node-version '${version}' is not the app's runtime (function-app.bicep: ${project.bicepNodeVersion})`);
    if (!project.engineMajors.includes(Number.parseInt(version, 10)))
      problems.push(`setup-node node-version '${version}' is outside package.json engines (${project.engineMajors.join(', ')})`);
  }
  return problems;
}

/** A shell word that names a file of the repository (not a variable, option, URL or absolute path). */
function repoPath(word: string): string | undefined {
  const bare = word.replace(/^[("'`]+|[)"'`,.;:]+$/g, '').replace(/^\.\//, '');
  if (!/^[\w.-]+(\/[\w.-]+)+$/.test(bare)) return undefined;
  const segments = bare.split('/');
  // `CI/CD` in a message is prose: a path here has an extension, a dotted first folder or a real top-level folder.
  const looksLikeFile = segments.at(-1)!.includes('.') || bare.startsWith('.') || existsSync(path.join(ROOT, segments[0]!));
  return looksLikeFile ? bare : undefined;
}

function referenceProblems(workflow: Workflow, project: Project): string[] {
  const problems: string[] = [];
  for (const script of runs(workflow)) {
    for (const match of script.matchAll(/\bnpm\s+(?:run(?:-script)?\s+([\w:.-]+)|(test|start)\b)/g)) {
      const name = match[1] ?? match[2]!;
      if (!(name in project.scripts)) problems.push(`runs \`npm ${match[1] ? 'run ' : ''}${name}\`: package.json has no script ${name}`);
    }
    for (const word of script.split(/\s+/)) {
      const file = repoPath(word);
      if (file && !existsSync(path.join(ROOT, file))) problems.push(`runs with ${file}, which is not in the repository`);
    }
  }
  for (const value of strings(workflow))
    for (const match of value.matchAll(/hashFiles\(\s*'([^']+)'\s*\)/g))
      if (!existsSync(path.join(ROOT, match[1]!))) problems.push(`hashFiles('${match[1]}'): no such file`);
  return problems;
}

/** CI must be .ci/run itself, on pull requests: what runs there is what runs everywhere else. */
function ciEntryProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  if (!triggers(workflow).includes('pull_request')) problems.push('CI does not run on pull_request');
  if (!runs(workflow).some((script) => /(^|\s)(bash\s+)?(\.\/)?\.ci\/run(\s|$)/.test(script))) problems.push('no step runs .ci/run');
  for (const script of runs(workflow))
    if (/\bnpm\s+(test|run\s+(lint|test))\b/.test(script)) problems.push(`runs \`${script.trim()}\` itself instead of through .ci/run`);
  return problems;
}

function azdVariableProblems(workflow: Workflow, project: Project): string[] {
  const problems: string[] = [];
  const pipelineVariables: string[] = project.azureYaml?.pipeline?.variables ?? [];
  const azdJobs = Object.entries(workflow.jobs).filter(([, job]) => (job.steps ?? []).some((step) => /\bazd\s/.test(step.run ?? '')));
  if (azdJobs.length === 0) problems.push('no job runs azd');
  const fromVars = (name: string) => `\${{ vars.${name} }}`;
  for (const [id, job] of azdJobs) {
    const env = jobEnv(workflow, job);
    for (const name of AZD_PIPELINE_VARIABLES)
      if (env[name] !== fromVars(name)) problems.push(`job ${id}: env ${name} is not ${fromVars(name)} (azd pipeline config sets it)`);
    for (const name of project.parameterVariables) {
      if (AZD_PIPELINE_VARIABLES.includes(name) || AZD_FILLS_ITSELF.includes(name)) continue;
      if (env[name] !== fromVars(name)) problems.push(`job ${id}: main.parameters.json reads ${name}, env does not pass ${fromVars(name)}`);
    }
    // The token's subject would become repo:<owner>/<repo>:environment:<name>, which azd's credentials do not match.
    if (job.environment !== undefined)
      problems.push(`job ${id} sets environment: azd pipeline config's federated credentials do not cover it`);
  }
  for (const name of project.parameterVariables)
    if (!AZD_PIPELINE_VARIABLES.includes(name) && !AZD_FILLS_ITSELF.includes(name) && !pipelineVariables.includes(name))
      problems.push(
        `main.parameters.json reads ${name}, azure.yaml pipeline.variables does not list it (azd pipeline config would not set it)`,
      );
  for (const name of pipelineVariables)
    if (!project.parameterVariables.includes(name))
      problems.push(`azure.yaml pipeline.variables lists ${name}, main.parameters.json does not read it`);
  for (const name of referenced(workflow, 'vars'))
    if (!AZD_PIPELINE_VARIABLES.includes(name) && !pipelineVariables.includes(name))
      problems.push(`reads vars.${name}, which azd pipeline config does not set (add it to azure.yaml pipeline.variables)`);
  // The runner is Linux: azd runs the hooks' posix variants.
  for (const [hook, spec] of Object.entries<any>(project.azureYaml?.hooks ?? {})) {
    const run = String(spec?.posix?.run ?? spec?.run ?? '');
    if (!existsSync(path.join(ROOT, run))) problems.push(`azure.yaml hook ${hook} runs ${run}, which does not exist`);
  }
  for (const script of runs(workflow))
    for (const match of script.matchAll(/\bazd\s+deploy\s+([a-z][\w-]*)/g))
      if (!(match[1]! in (project.azureYaml?.services ?? {}))) problems.push(`azd deploy ${match[1]}: azure.yaml has no such service`);
  return problems;
}

/** Compile, then preview (what-if), then provision, then deploy; the compiled file is azure.yaml's infra module. */
function deployOrderProblems(workflow: Workflow, project: Project): string[] {
  const problems: string[] = [];
  const scripts = runs(workflow);
  const index = (pattern: RegExp) => scripts.findIndex((script) => pattern.test(script));
  const order: Array<[string, number]> = [
    ['az bicep build', index(/\baz\s+bicep\s+build\b/)],
    ['azd provision --preview', index(/\bazd\s+provision\b.*--preview/)],
    ['azd provision', index(/\bazd\s+provision\b(?!.*--preview)/)],
    ['azd deploy', index(/\bazd\s+deploy\b/)],
  ];
  for (const [what, at] of order) if (at < 0) problems.push(`no step runs ${what}`);
  for (let i = 1; i < order.length; i++)
    if (order[i - 1]![1] >= 0 && order[i]![1] >= 0 && order[i - 1]![1] > order[i]![1])
      problems.push(`${order[i]![0]} runs before ${order[i - 1]![0]}`);
  const infra = project.azureYaml?.infra ?? {};
  const template = `${infra.path ?? 'infra'}/${infra.module ?? 'main'}.bicep`;
  const build = scripts.find((script) => /\baz\s+bicep\s+build\b/.test(script)) ?? '';
  const file = /--file\s+(\S+)/.exec(build)?.[1];
  if (build && file !== template) problems.push(`az bicep build compiles ${file ?? 'nothing'}, azure.yaml provisions ${template}`);
  return problems;
}

function securityProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  const checkPermissions = (where: string, permissions: unknown) => {
    if (!permissions || typeof permissions !== 'object') return problems.push(`${where}: permissions are not listed scope by scope`);
    const scopes = permissions as Record<string, unknown>;
    if (scopes['id-token'] !== 'write') problems.push(`${where}: permissions lack id-token: write (OIDC sign-in)`);
    if (scopes.contents !== 'read') problems.push(`${where}: permissions should give contents: read`);
    for (const [scope, level] of Object.entries(scopes))
      if (scope !== 'id-token' && level === 'write') problems.push(`${where}: ${scope}: write is more than the workflow needs`);
  };
  checkPermissions('workflow', workflow.permissions);
  for (const [id, job] of Object.entries(workflow.jobs)) if (job.permissions !== undefined) checkPermissions(`job ${id}`, job.permissions);
  for (const name of referenced(workflow, 'secrets'))
    if (name !== 'GITHUB_TOKEN' && CREDENTIAL_NAME.test(name))
      problems.push(`reads secrets.${name}: sign in with federated credentials, store no keys`);
  for (const step of steps(workflow)) {
    if (step.uses?.toLowerCase().startsWith('azure/login@')) {
      for (const input of ['creds', 'client-secret', 'auth-type'])
        if (step.with?.[input] !== undefined) problems.push(`azure/login with ${input}: use client-id/tenant-id (OIDC) only`);
      if (!step.with?.['client-id'] || !step.with?.['tenant-id']) problems.push('azure/login without client-id and tenant-id');
    }
    const login = /\bazd\s+auth\s+login\b[\s\S]*/.exec(step.run ?? '')?.[0];
    if (login && !/--federated-credential-provider\s+"?github"?/.test(login))
      problems.push('azd auth login without --federated-credential-provider github');
    if (login && /--client-secret|--client-certificate/.test(login)) problems.push('azd auth login with a stored secret or certificate');
  }
  return problems;
}

/** `uses:` names a major version tag (v4, v2.1.0) or a full commit sha; never a branch, never nothing. */
function pinProblems(workflow: Workflow): string[] {
  return steps(workflow)
    .map((step) => step.uses)
    .filter((uses): uses is string => uses !== undefined && !uses.startsWith('./'))
    .filter((uses) =>
      uses.startsWith('docker://')
        ? !/[:@][\w.-]+$/.test(uses.slice(9))
        : !/^[\w.-]+\/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/.test(uses),
    )
    .map((uses) => `${uses} is not pinned to a major version or a commit`);
}

/** Every repository variable the workflows read is explained in infra/README.md (the one-time setup). */
function documentationProblems(workflow: Workflow, project: Project): string[] {
  return referenced(workflow, 'vars')
    .filter((name) => !project.infraReadme.includes(`\`${name}\``))
    .map((name) => `vars.${name} is not documented in infra/README.md`);
}

// ------------------------------------------------------------------------------------------------ the real files

const project = loadProject();
const ci = parseWorkflow(workflowText(CI_FILE));
const deploy = parseWorkflow(workflowText(DEPLOY_FILE));
/** Every workflow file, so one added later gets the general checks too. */
const all = readdirSync(WORKFLOWS_DIR)
  .filter((name) => /\.ya?ml$/.test(name))
  .map((name) => ({ name, workflow: parseWorkflow(workflowText(name)) }));
const eachWorkflow = (check: (workflow: Workflow) => string[]) =>
  all.flatMap(({ name, workflow }) => check(workflow).map((p) => `${name}: ${p}`));

test('the CI and deploy workflows exist and parse as workflows', () => {
  assert.deepEqual(
    [CI_FILE, DEPLOY_FILE].filter((file) => !all.some(({ name }) => name === file)),
    [],
  );
  assert.ok(steps(ci).length > 0 && steps(deploy).length > 0);
});

test('Node: every workflow sets up the version the app runs on in Azure, within package.json engines', () => {
  assert.match(project.bicepNodeVersion, /^\d+$/);
  assert.ok(project.engineMajors.length > 0, 'package.json engines.node names no major');
  assert.deepEqual(
    eachWorkflow((w) => nodeVersionProblems(w, project)),
    [],
  );
});

test('every npm script, script file and hashed file the workflows name exists', () => {
  assert.deepEqual(
    eachWorkflow((w) => referenceProblems(w, project)),
    [],
  );
});

test('CI is .ci/run on pull requests, not a copy of its commands', () => {
  assert.deepEqual(ciEntryProblems(ci), []);
});

test('the deploy passes azd the variables azd pipeline config sets and main.parameters.json reads, as azure.yaml lists them', () => {
  assert.deepEqual(azdVariableProblems(deploy, project), []);
});

test('the deploy compiles the Bicep azure.yaml provisions and previews it before provisioning, then deploys', () => {
  assert.deepEqual(deployOrderProblems(deploy, project), []);
});

test('the workflows sign in with OIDC only: id-token: write, no stored keys, least permissions', () => {
  assert.deepEqual(eachWorkflow(securityProblems), []);
});

test('every action is pinned to a major version or a commit', () => {
  assert.deepEqual(eachWorkflow(pinProblems), []);
});

test('every repository variable the workflows read is documented in infra/README.md', () => {
  assert.deepEqual(
    eachWorkflow((w) => documentationProblems(w, project)),
    [],
  );
});

// ------------------------------------------------------------------------------------------------ broken copies

/** The workflow's text with `from` replaced (which must be there, or the broken copy would be the real one). */
function broken(file: string, from: string | RegExp, to: string): Workflow {
  const text = workflowText(file);
  const changed = text.replace(from, to);
  assert.notEqual(changed, text, `${file} has no ${String(from)} to break`);
  return parseWorkflow(changed);
}

test('each check finds what a broken copy of a workflow gets wrong', () => {
  const some = (problems: string[], pattern: RegExp) =>
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `expected a finding matching ${pattern}, got ${JSON.stringify(problems)}`,
    );

  some(nodeVersionProblems(broken(CI_FILE, /node-version: 22/, 'node-version: 20'), project), /'20' is not the app's runtime/);
  some(nodeVersionProblems(broken(DEPLOY_FILE, /node-version: 22/, 'node-version: 18'), project), /outside package\.json engines/);
  some(
    nodeVersionProblems(broken(DEPLOY_FILE, /uses: actions\/setup-node@v4/, 'uses: actions/setup-python@v5'), project),
    /no actions\/setup-node/,
  );

  some(referenceProblems(broken(CI_FILE, 'run: bash .ci/run', 'run: bash .ci/runner'), project), /\.ci\/runner, which is not/);
  some(referenceProblems(broken(CI_FILE, 'run: bash .ci/run', 'run: npm run lint:all'), project), /no script lint:all/);
  some(referenceProblems(broken(CI_FILE, "hashFiles('.ci/run')", "hashFiles('.ci/setup')"), project), /hashFiles\('\.ci\/setup'\)/);
  some(referenceProblems(broken(DEPLOY_FILE, '--file infra/main.bicep', '--file infra/app.bicep'), project), /infra\/app\.bicep/);

  some(ciEntryProblems(broken(CI_FILE, 'run: bash .ci/run', 'run: npm ci && npm run lint && npm test')), /no step runs \.ci\/run/);
  some(ciEntryProblems(broken(CI_FILE, /^ {2}pull_request:\n/m, '')), /not run on pull_request/);

  some(
    azdVariableProblems(broken(DEPLOY_FILE, 'AZURE_ENV_NAME: ${{ vars.AZURE_ENV_NAME }}', 'AZURE_ENV_NAME: dev'), project),
    /AZURE_ENV_NAME is not/,
  );
  some(
    azdVariableProblems(broken(DEPLOY_FILE, /\n +AZURE_VISION_LOCATION: .*/, ''), project),
    /main\.parameters\.json reads AZURE_VISION_LOCATION, env does not pass/,
  );
  some(
    azdVariableProblems(broken(DEPLOY_FILE, 'runs-on: ubuntu-24.04', 'runs-on: ubuntu-24.04\n    environment: production'), project),
    /sets environment/,
  );
  some(
    azdVariableProblems(broken(DEPLOY_FILE, '${{ vars.DEPLOY_VISION }}', '${{ vars.VISION_ENABLED }}'), project),
    /vars\.VISION_ENABLED/,
  );
  const withoutListed = { ...project, azureYaml: { ...project.azureYaml, pipeline: { variables: ['DEPLOY_OPENAI', 'STALE_NAME'] } } };
  some(azdVariableProblems(deploy, withoutListed), /reads DEPLOY_VISION, azure\.yaml pipeline\.variables does not list it/);
  some(azdVariableProblems(deploy, withoutListed), /lists STALE_NAME, main\.parameters\.json does not read it/);
  const newParameter = { ...project, parameterVariables: [...project.parameterVariables, 'ALERT_EMAIL'] };
  some(azdVariableProblems(deploy, newParameter), /reads ALERT_EMAIL, env does not pass/);

  some(
    deployOrderProblems(broken(DEPLOY_FILE, 'run: azd provision --preview --no-prompt', 'run: echo skipped'), project),
    /no step runs azd provision --preview/,
  );
  some(
    deployOrderProblems(broken(DEPLOY_FILE, 'run: azd provision --no-prompt', 'run: azd deploy --no-prompt'), project),
    /no step runs azd provision$/,
  );
  const swapped = workflowText(DEPLOY_FILE)
    .replace('run: azd provision --preview --no-prompt', 'run: PLACEHOLDER')
    .replace('run: azd provision --no-prompt', 'run: azd provision --preview --no-prompt')
    .replace('run: PLACEHOLDER', 'run: azd provision --no-prompt');
  some(
    deployOrderProblems(parseWorkflow(swapped), project),
    /azd provision --preview runs before az bicep build|azd provision runs before azd provision --preview/,
  );
  const otherModule = { ...project, azureYaml: { ...project.azureYaml, infra: { path: 'infra', module: 'app' } } };
  some(deployOrderProblems(deploy, otherModule), /compiles infra\/main\.bicep, azure\.yaml provisions infra\/app\.bicep/);

  some(securityProblems(broken(DEPLOY_FILE, /^ {2}id-token: write\n/m, '')), /lack id-token: write/);
  some(securityProblems(broken(CI_FILE, 'contents: read', 'contents: write')), /contents: write is more/);
  some(
    securityProblems(broken(DEPLOY_FILE, 'ONNXRUNTIME_NODE_INSTALL: skip', 'AZURE_CLIENT_SECRET: ${{ secrets.AZURE_CLIENT_SECRET }}')),
    /secrets\.AZURE_CLIENT_SECRET/,
  );
  some(
    securityProblems(broken(DEPLOY_FILE, 'client-id: ${{ vars.AZURE_CLIENT_ID }}', 'creds: ${{ secrets.AZURE_CREDENTIALS }}')),
    /azure\/login with creds/,
  );
  some(
    securityProblems(broken(DEPLOY_FILE, '--federated-credential-provider github', '--client-secret "$X"')),
    /without --federated-credential-provider/,
  );

  some(pinProblems(broken(CI_FILE, 'actions/checkout@v4', 'actions/checkout@main')), /actions\/checkout@main is not pinned/);
  some(pinProblems(broken(DEPLOY_FILE, 'Azure/setup-azd@v2', 'Azure/setup-azd')), /Azure\/setup-azd is not pinned/);

  some(
    documentationProblems(broken(CI_FILE, '${{ vars.AUTOLABEL_DATA_CONTAINER }}', '${{ vars.UNDOCUMENTED_NAME }}'), project),
    /UNDOCUMENTED_NAME/,
  );
});

// ------------------------------------------------------------------------------------------------ the guard steps, run

function stepNamed(workflow: Workflow, name: string): Step {
  const step = steps(workflow).find((s) => s.name === name);
  assert.ok(step?.run, `no run step named '${name}'`);
  return step;
}

/** Runs a step's script the way GitHub runs `shell: bash` (bash --noprofile --norc -eo pipefail). */
function runStep(step: Step, env: Record<string, string>, pathPrefix?: string) {
  const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run!], {
    env: { PATH: pathPrefix ? `${pathPrefix}${path.delimiter}${process.env.PATH}` : process.env.PATH, ...env },
    encoding: 'utf8',
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const DATA_VARIABLES = {
  AUTOLABEL_DATA_CLIENT_ID: 'c',
  AZURE_TENANT_ID: 't',
  AUTOLABEL_DATA_ACCOUNT: 'a',
  AUTOLABEL_DATA_CONTAINER: 'shared',
};

test('CI fails, naming the variables to set, when the test data is not configured; never skips', () => {
  const check = stepNamed(ci, 'Check the test data is configured');
  const none = runStep(check, { IS_FORK: 'false' });
  assert.equal(none.status, 1, none.output);
  assert.match(none.output, /::error::Test data not configured/);
  for (const name of Object.keys(DATA_VARIABLES)) assert.match(none.output, new RegExp(name));
  const partial = runStep(check, { ...DATA_VARIABLES, AUTOLABEL_DATA_ACCOUNT: '', IS_FORK: 'false' });
  assert.equal(partial.status, 1);
  assert.match(partial.output, /variables AUTOLABEL_DATA_ACCOUNT \(/);
  const fork = runStep(check, { ...DATA_VARIABLES, IS_FORK: 'true' });
  assert.equal(fork.status, 1);
  assert.match(fork.output, /forks get no OIDC token/);
  assert.equal(runStep(check, { ...DATA_VARIABLES, IS_FORK: 'false' }).status, 0);
  // Each variable the step checks is one the job sets from vars.
  const job = Object.values(ci.jobs)[0]!;
  for (const name of Object.keys(DATA_VARIABLES)) assert.equal(job.env?.[name], `\${{ vars.${name} }}`);
});

test('CI downloads the data keyless and hands .ci/run its folder, or fails when the container lacks a folder', () => {
  const download = stepNamed(ci, 'Download the test data');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workflow-'));
  dirs.push(dir);
  const calls = path.join(dir, 'az-calls');
  // Stand-in az: records its arguments, creates the folders FAKE_FOLDERS names under --destination.
  writeFileSync(
    path.join(dir, 'az'),
    `#!/bin/sh\necho "$@" >> "${calls}"\ndest=""\nwhile [ $# -gt 0 ]; do [ "$1" = --destination ] && dest="$2"; shift; done\nfor f in $FAKE_FOLDERS; do mkdir -p "$dest/$f"; done\n`,
  );
  chmodSync(path.join(dir, 'az'), 0o755);
  const run = (folders: string, temp: string) => {
    const githubEnv = path.join(dir, `github-env-${path.basename(temp)}`);
    writeFileSync(githubEnv, '');
    const result = runStep(download, { ...DATA_VARIABLES, RUNNER_TEMP: temp, GITHUB_ENV: githubEnv, FAKE_FOLDERS: folders }, dir);
    return { ...result, githubEnv: readFileSync(githubEnv, 'utf8') };
  };

  const incomplete = run('bdd100k-sample models', mkdtempSync(path.join(dir, 'temp-')));
  assert.equal(incomplete.status, 1, incomplete.output);
  assert.match(incomplete.output, /::error::a\/shared has no bdd100k-scenes\//);
  assert.equal(incomplete.githubEnv, '');

  const temp = mkdtempSync(path.join(dir, 'temp-'));
  const complete = run('bdd100k-sample bdd100k-scenes models', temp);
  assert.equal(complete.status, 0, complete.output);
  assert.equal(complete.githubEnv.trim(), `AUTOLABEL_SHARED_DIR=${path.join(temp, 'shared')}`);
  const azCall = readFileSync(calls, 'utf8').trim().split('\n')[0]!;
  assert.match(azCall, /^storage blob download-batch --auth-mode login --account-name a --source shared /);
  // The folder the tests read is the one .ci/run is given, and its layout is the shared folder's.
  assert.ok(existsSync(path.join(temp, 'shared', 'bdd100k-sample')));
  assert.match(
    readFileSync(path.join(ROOT, 'test', 'helpers', 'shared.ts'), 'utf8'),
    /'bdd100k-sample'[\s\S]*'bdd100k-scenes'[\s\S]*'models'/,
  );
});

test('the deploy fails, naming them, when the azd pipeline config variables are not set', () => {
  const check = stepNamed(deploy, 'Check the Azure variables are set');
  const none = runStep(check, {});
  assert.equal(none.status, 1, none.output);
  for (const name of AZD_PIPELINE_VARIABLES) assert.match(none.output, new RegExp(name));
  assert.match(none.output, /azd pipeline config/);
  const all = Object.fromEntries(AZD_PIPELINE_VARIABLES.map((name) => [name, 'x']));
  assert.equal(runStep(check, all).status, 0);
  assert.equal(runStep(check, { ...all, AZURE_LOCATION: '' }).status, 1);
});
