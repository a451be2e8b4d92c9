/**
 * Azurite (Blob, Queue, Table) as a child process of this one, for local runs and tests.
 *
 * - Started by its own JS entry (`node <azurite>/dist/src/azurite.js`), so `pid` is Azurite's own process.
 * - Ports: free ports are found first (listen on port 0, read the port, close); a start that loses the race for a
 *   port (Azurite exits early) is retried with new ports.
 * - Persistence: with `dataDir`, Azurite keeps its own files there (`--location`; blob/queue/table metadata in LokiJS
 *   files, autosaved every 5 s and on graceful shutdown, blob bytes in extent files); without it,
 *   `--inMemoryPersistence`.
 * - HTTPS and Entra ID tokens (optional): with `tls`, Azurite serves HTTPS with that PEM cert and key (`--cert`,
 *   `--key`); with `oauth: 'basic'` as well, it accepts bearer tokens (`--oauth basic`: issuer, audience and lifetime
 *   are checked, the signature is not; Azurite allows bearer tokens over HTTPS only). Shared key keeps working.
 * - No orphans: `stop()` sends SIGTERM (Azurite saves and closes), waits for exit, then SIGKILL after a grace time.
 *   An `exit` hook kills any still-running child when this process exits, and a watchdog preloaded into the child
 *   makes it shut itself down when its stdin pipe closes, which also covers this process being SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The well-known development storage account of Azurite and the Storage Emulator (public, not a secret). */
export const DEV_ACCOUNT_NAME = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuritePorts {
  blob?: number;
  queue?: number;
  table?: number;
}

export interface StartAzuriteOptions {
  /** Folder for Azurite's files (created if missing): data survives restarts. Absent: in memory only. */
  dataDir?: string;
  /** Listening host; default 127.0.0.1. */
  host?: string;
  /** Fixed ports; 0 or absent: a free port is chosen. */
  ports?: AzuritePorts;
  /** Default true: no access log. Startup lines and errors are kept (see `output()`) either way. */
  silent?: boolean;
  /** Milliseconds to wait for all three endpoints to answer; default 15000. */
  startTimeoutMs?: number;
  /** Serve HTTPS with this PEM certificate and private key; absent: plain HTTP. */
  tls?: { certPath: string; keyPath: string };
  /** 'basic': also accept Entra ID bearer tokens (Azurite's `--oauth basic`). Requires `tls`. */
  oauth?: 'basic';
}

export interface AzuriteHandle {
  pid: number;
  host: string;
  ports: Required<AzuritePorts>;
  /** 'https' when started with `tls`. */
  protocol: 'http' | 'https';
  /** e.g. http://127.0.0.1:PORT/devstoreaccount1 (path-style account, as Azurite wants); https with `tls`. */
  blobUrl: string;
  queueUrl: string;
  tableUrl: string;
  /** Explicit connection string: devstoreaccount1 key and the three endpoints with the chosen ports. */
  connectionString: string;
  dataDir: string | undefined;
  /** The last lines Azurite wrote (stdout and stderr). */
  output(): string;
  /** SIGTERM, wait for exit (SIGKILL after `graceMs`, default 5000). Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/**
 * Preloaded into Azurite: when the parent's pipe on stdin closes (parent exited, even by SIGKILL), shut down
 * gracefully (SIGTERM to itself), then hard exit if that has not finished in 3 s. stdin is unref'd so it does not
 * keep Azurite alive after its servers close.
 */
const WATCHDOG =
  'data:text/javascript,' +
  encodeURIComponent(
    'const s=process.stdin;const bye=()=>{try{process.kill(process.pid,"SIGTERM")}catch{}' +
      'setTimeout(()=>process.exit(0),3000).unref()};s.on("end",bye);s.on("close",bye);s.on("error",bye);' +
      's.resume();if(typeof s.unref==="function")s.unref();',
  );

/** Ports that were free a moment ago (held together so they differ from each other). */
export async function findFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const address = server.address();
      if (!address || typeof address === 'string') throw new Error('no port from listen(0)');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * Resolves true when anything answers HTTP(S) at the URL (any status), false on a connection error or timeout.
 * Over HTTPS the certificate is not verified: this only asks "is Azurite listening yet", and with a self-signed
 * test certificate that this process does not trust, verification would fail forever. Real clients still verify.
 */
function answers(url: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:')
      ? (cb: (res: http.IncomingMessage) => void) => https.get(url, { timeout: timeoutMs, agent: false, rejectUnauthorized: false }, cb)
      : (cb: (res: http.IncomingMessage) => void) => http.get(url, { timeout: timeoutMs, agent: false }, cb);
    const req = get((res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
  });
}

export function azuriteEntry(): string {
  const pkg = require.resolve('azurite/package.json');
  return path.join(path.dirname(pkg), 'dist', 'src', 'azurite.js');
}

export function devConnectionString(host: string, ports: Required<AzuritePorts>, protocol: 'http' | 'https' = 'http'): string {
  return [
    `DefaultEndpointsProtocol=${protocol}`,
    `AccountName=${DEV_ACCOUNT_NAME}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    `BlobEndpoint=${protocol}://${host}:${ports.blob}/${DEV_ACCOUNT_NAME}`,
    `QueueEndpoint=${protocol}://${host}:${ports.queue}/${DEV_ACCOUNT_NAME}`,
    `TableEndpoint=${protocol}://${host}:${ports.table}/${DEV_ACCOUNT_NAME}`,
    '',
  ].join(';');
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(options: StartAzuriteOptions): Promise<AzuriteHandle> {
  const host = options.host ?? '127.0.0.1';
  const protocol = options.tls ? 'https' : 'http';
  const wanted = options.ports ?? {};
  const need = [wanted.blob, wanted.queue, wanted.table].filter((p) => !p).length;
  const free = need > 0 ? await findFreePorts(need, host) : [];
  const next = (): number => {
    const port = free.shift();
    if (port === undefined) throw new Error('internal: ran out of free ports');
    return port;
  };
  const ports = {
    blob: wanted.blob || next(),
    queue: wanted.queue || next(),
    table: wanted.table || next(),
  };
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });

  const args = [
    '--import',
    WATCHDOG,
    azuriteEntry(),
    '--blobHost',
    host,
    '--blobPort',
    String(ports.blob),
    '--queueHost',
    host,
    '--queuePort',
    String(ports.queue),
    '--tableHost',
    host,
    '--tablePort',
    String(ports.table),
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
  ];
  if (options.silent ?? true) args.push('--silent');
  if (dataDir) args.push('--location', dataDir);
  else args.push('--inMemoryPersistence');
  if (options.tls) args.push('--cert', path.resolve(options.tls.certPath), '--key', path.resolve(options.tls.keyPath));
  if (options.oauth) args.push('--oauth', options.oauth);

  installExitHook();
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Azurite writes telemetry/debug files relative to cwd when no location is given: keep them out of the repo.
    cwd: dataDir ?? os.tmpdir(),
    env: { ...process.env, NODE_OPTIONS: '' },
    windowsHide: true,
  });
  if (child.pid === undefined) throw new Error('Azurite did not spawn');
  const pid = child.pid;
  running.add(child);
  child.once('exit', () => running.delete(child));
  // Never let the child keep this process alive on its own; the exit hook and the watchdog clean up.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    );
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const output = (): string => lines.join('\n');

  const blobUrl = `${protocol}://${host}:${ports.blob}/${DEV_ACCOUNT_NAME}`;
  const queueUrl = `${protocol}://${host}:${ports.queue}/${DEV_ACCOUNT_NAME}`;
  const tableUrl = `${protocol}://${host}:${ports.table}/${DEV_ACCOUNT_NAME}`;

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await waitForExit(child);
      clearTimeout(killer);
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    })();
    return stopping;
  };

  const timeoutMs = options.startTimeoutMs ?? 15000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const err = new Error(`Azurite exited during startup (code ${child.exitCode}, signal ${child.signalCode}); output:\n${output()}`);
      (err as Error & { portClash?: boolean }).portClash = /EADDRINUSE/.test(output());
      throw err;
    }
    const up = await Promise.all([answers(blobUrl), answers(queueUrl), answers(tableUrl)]);
    if (up.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop(1000);
      throw new Error(`Azurite did not answer on ${blobUrl} within ${timeoutMs} ms; output:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    pid,
    host,
    ports,
    protocol,
    blobUrl,
    queueUrl,
    tableUrl,
    connectionString: devConnectionString(host, ports, protocol),
    dataDir,
    output,
    stop,
  };
}

/** Starts Azurite and resolves once Blob, Queue and Table all answer. */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteHandle> {
  // Over plain HTTP Azurite would start, then refuse every bearer token ("Bearer is not allowed with HTTP").
  if (options.oauth && !options.tls) throw new Error('startAzurite: oauth needs tls (Azurite accepts bearer tokens over HTTPS only)');
  const fixed = options.ports && (options.ports.blob || options.ports.queue || options.ports.table);
  const attempts = fixed ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      const clash = (err as Error & { portClash?: boolean }).portClash === true;
      if (!clash || attempt >= attempts) throw err;
    }
  }
}
