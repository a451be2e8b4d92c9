/**
 * The local host's stand-in for the Functions worker's runtime module, `@azure/functions-core`. @azure/functions
 * registers every `app.http(...)`, `app.storageBlob(...)`, `df.app.orchestration(...)` ... by calling
 * `registerFunction(metadata, callback)` on that module, which only the real worker provides (outside it the library
 * runs in "test mode" and registers nothing). Installed here before the app's functions load, it receives exactly
 * what the worker receives: the function's name, its bindings as the host reads them (trigger type, route, path,
 * queue, schedule, durableClient inputs), and the callback to invoke. So the app needs no hook of its own for the
 * local host: it uses only the public @azure/functions and durable-functions APIs.
 */
import Module from 'node:module';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { InvocationContext, type FunctionInput, type LogLevel } from '@azure/functions';

/** A binding as registered (the host's function.json shape): `type`, `direction`, `name` and its own settings. */
export interface BindingMetadata {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name: string;
  [setting: string]: unknown;
}

export interface RegisteredFunction {
  name: string;
  /** The one `in` binding whose type ends in `Trigger`. */
  trigger: BindingMetadata;
  /** The other input bindings (e.g. durableClient). */
  extraInputs: BindingMetadata[];
  /** What @azure/functions (or durable-functions' wrapper) registered: called as (triggerInput, context). */
  callback: (input: unknown, context: InvocationContext) => unknown;
}

interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
}

const registered = new Map<string, RegisteredFunction>();
/** Hooks registered with app.hook.* (appTerminate: what to close when the host shuts down). */
const hooks: Array<{ name: string; callback: (context: { hookData: Record<string, unknown> }) => unknown }> = [];

/** The module @azure/functions loads as `@azure/functions-core` (the part of the worker API it uses). */
const functionsCore = {
  registerFunction(metadata: CoreFunctionMetadata, callback: RegisteredFunction['callback']) {
    if (registered.has(metadata.name)) throw new Error(`a function named ${metadata.name} is registered twice`);
    const bindings = Object.values(metadata.bindings);
    const trigger = bindings.find((b) => b.direction === 'in' && /Trigger$/.test(b.type));
    if (!trigger) throw new Error(`function ${metadata.name} has no trigger binding`);
    const extraInputs = bindings.filter((b) => b !== trigger && b.direction === 'in');
    registered.set(metadata.name, { name: metadata.name, trigger, extraInputs, callback });
    return { dispose: () => registered.delete(metadata.name) };
  },
  setProgrammingModel(): void {
    // The worker asks the model to convert its RPC messages; this host builds the arguments itself.
  },
  getProgrammingModel(): undefined {
    return undefined;
  },
  registerHook(name: string, callback: (typeof hooks)[number]['callback']) {
    const hook = { name, callback };
    hooks.push(hook);
    return { dispose: () => void hooks.splice(hooks.indexOf(hook), 1) };
  },
  log(level: string, category: string, message: string): void {
    if (level === 'error' || level === 'warning') process.stderr.write(`[functions ${category}] ${message}\n`);
  },
};

const CORE_MODULE = '@azure/functions-core';
let installed = false;

/**
 * Makes `require('@azure/functions-core')` resolve to this host. Must run before the first function registers:
 * @azure/functions looks the module up once and remembers the answer.
 */
export function installFunctionsRuntime(): void {
  if (installed) return;
  installed = true;
  const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = resolver._resolveFilename;
  const id = `${__filename}#${CORE_MODULE}`;
  resolver._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === CORE_MODULE ? id : resolve.call(this, request, ...rest);
  };
  const cached = new Module(id);
  cached.exports = functionsCore;
  cached.loaded = true;
  (require.cache as Record<string, unknown>)[id] = cached;
}

/**
 * Loads the app's functions (the module that registers them all) with this runtime installed, and returns what
 * registered. Fails clearly when the library had already decided it runs outside a host (test mode).
 */
export function loadFunctions(entry: string): RegisteredFunction[] {
  installFunctionsRuntime();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the entry is only known at run time, and must load synchronously before the host wires triggers
  require(entry); // a second load finds the modules cached: the registrations of the first load stand
  if (registered.size === 0) {
    throw new Error(
      `no function registered from ${entry}: @azure/functions was used before the local host installed its runtime (load dev/local-host first)`,
    );
  }
  return [...registered.values()];
}

/** Every function registered so far in this process (e.g. by df.app.orchestration calls of a test). */
export function registeredFunctions(): RegisteredFunction[] {
  return [...registered.values()];
}

/** Runs the app's appTerminate hooks, as the worker does when the host shuts down. */
export async function runTerminateHooks(): Promise<void> {
  for (const hook of hooks.filter((h) => h.name === 'appTerminate')) await hook.callback({ hookData: {} });
}

/** The registered functions whose trigger has this type (httpTrigger, blobTrigger, queueTrigger, ...). */
export function functionsWithTrigger(functions: readonly RegisteredFunction[], type: string): RegisteredFunction[] {
  return functions.filter((f) => f.trigger.type === type);
}

/** What a durableClient input binding carries (the Durable extension's client data), by the host's Durable runner. */
export type DurableClientData = Record<string, unknown>;

export interface ContextOptions {
  invocationId?: string;
  triggerMetadata?: Record<string, unknown>;
  log: (line: string) => void;
  /** For functions with a durableClient input: the client data to bind (see durable/http-api.ts). */
  durableClient?: DurableClientData | undefined;
}

/**
 * The InvocationContext the worker would build for one invocation: the function's trigger and extra inputs as
 * registered, the trigger metadata, the values of its input bindings, and a log handler that writes to the host log.
 */
export function invocationContextFor(fn: RegisteredFunction, options: ContextOptions): InvocationContext {
  const extraInputs = fn.extraInputs as unknown as FunctionInput[];
  const context = new InvocationContext({
    functionName: fn.name,
    invocationId: options.invocationId ?? randomUUID(),
    ...(options.triggerMetadata ? { triggerMetadata: options.triggerMetadata } : {}),
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      if (level === 'none') return;
      const tag = level === 'information' ? '' : `${level}: `;
      options.log(`[${fn.name}] ${tag}${format(...args)}`);
    },
    options: { trigger: fn.trigger as unknown as InvocationContext['options']['trigger'], extraInputs, extraOutputs: [] },
  });
  for (const input of fn.extraInputs) {
    if (input.type === 'durableClient' && options.durableClient) context.extraInputs.set(input.name, options.durableClient);
  }
  return context;
}
