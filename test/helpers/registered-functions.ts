/**
 * The functions the app registers, as the Functions host receives them: name and bindings (trigger type, path,
 * queue, schedule, connection). @azure/functions hands every `app.http(...)`, `app.storageBlob(...)`,
 * `df.app.orchestration(...)` to the worker module `@azure/functions-core`, which only the real worker provides;
 * here a child process provides a stand-in that records the calls, then loads the app's function entry. So this
 * depends on nothing but the public registration APIs (no registry of the app's own), and the test process stays
 * free of the registrations.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { BindingMetadata } from '../../dev/local-host/functions-runtime';

const ROOT = path.resolve(__dirname, '..', '..');

/** A binding as the host reads it (function.json shape): the local host's own type. */
export type Binding = BindingMetadata;

export interface RegisteredFunction {
  name: string;
  /** The `in` binding whose type ends in `Trigger`. */
  trigger: Binding;
  bindings: Binding[];
}

/**
 * Runs in the child: installs the recording stand-in, makes FORBIDDEN modules unresolvable (e.g. every
 * devDependency, as in a production install), loads the entry, prints what registered and which files loaded.
 */
const RECORD_REGISTRATIONS = `
const Module = require('node:module');
const CORE = '@azure/functions-core';
const forbidden = JSON.parse(process.env.FORBIDDEN_MODULES || '[]');
const registered = [];
const core = {
  registerFunction(metadata) {
    registered.push({ name: metadata.name, bindings: Object.values(metadata.bindings) });
    return { dispose() {} };
  },
  setProgrammingModel() {},
  getProgrammingModel() {},
  registerHook() { return { dispose() {} }; },
  log() {},
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === CORE) return CORE;
  if (forbidden.some((name) => request === name || request.startsWith(name + '/'))) throw new Error('a forbidden module was required: ' + request);
  return resolve.call(this, request, ...rest);
};
const stub = new Module(CORE);
stub.exports = core;
stub.loaded = true;
require.cache[CORE] = stub;
require(process.env.FUNCTIONS_ENTRY);
const files = Object.keys(require.cache).filter((file) => file !== CORE);
process.stdout.write('\\n@@registered@@' + JSON.stringify({ registered, files }));
`;

export interface LoadOptions {
  /** Default src/app/functions/index.ts. */
  entry?: string;
  /** Load through tsx (TypeScript sources; default) or plain node (the compiled dist/). */
  loader?: 'tsx' | 'node';
  /** Modules whose require() must fail (e.g. the devDependencies). */
  forbidden?: string[];
}

export interface LoadedEntry {
  functions: RegisteredFunction[];
  /** Every file the entry loaded (absolute paths). */
  files: string[];
}

/** Loads an entry in a child process and returns what it registers and loads. */
export function loadEntry(options: LoadOptions = {}): LoadedEntry {
  const entry = options.entry ?? path.join(ROOT, 'src/app/functions/index.ts');
  const loader = options.loader === 'node' ? [] : ['--import', 'tsx'];
  const child = spawnSync(process.execPath, [...loader, '-e', RECORD_REGISTRATIONS], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FUNCTIONS_ENTRY: entry, FORBIDDEN_MODULES: JSON.stringify(options.forbidden ?? []) },
    timeout: 60_000,
  });
  if (child.status !== 0) throw new Error(`loading ${entry} failed (${child.status ?? child.signal}):\n${child.stderr}`);
  // Modules may print while loading; the record is the last line.
  const marker = child.stdout.lastIndexOf('@@registered@@');
  if (marker < 0) throw new Error(`no registrations printed by ${entry}:\n${child.stdout}\n${child.stderr}`);
  const { registered, files } = JSON.parse(child.stdout.slice(marker + '@@registered@@'.length)) as {
    registered: Array<{ name: string; bindings: Binding[] }>;
    files: string[];
  };
  if (!registered.length) throw new Error(`${entry} registered no function`);
  const functions = registered.map(({ name, bindings }) => {
    const trigger = bindings.find((b) => b.direction === 'in' && /Trigger$/.test(b.type));
    if (!trigger) throw new Error(`function ${name} has no trigger binding`);
    return { name, trigger, bindings };
  });
  return { functions, files };
}

/** What the app's function entry (TypeScript sources) registers. */
export function registeredFunctions(): RegisteredFunction[] {
  return loadEntry().functions;
}
