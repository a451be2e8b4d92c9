/**
 * A Cosmos DB stand-in for local runs and tests: @vercel/cosmosdb-server in this process, plain HTTP on a free port
 * of 127.0.0.1. Clients need `connectionPolicy: {enableEndpointDiscovery: false}` (the server advertises https
 * locations); `clientOptions` carries it.
 *
 * Persistence: cosmosdb-server keeps everything in memory. With `dataDir`, this module snapshots every database,
 * container (id, partition key, default TTL, unique keys, indexing policy) and document through the Cosmos SDK into
 * `<dataDir>/cosmos-snapshot.json` (written to a temp file, then renamed), on `stop()`, on `snapshot()`, and every
 * `snapshotIntervalMs` after a write request; on start it recreates them. Limits, honestly:
 * - the last snapshot wins: writes after it are lost if this process dies without `stop()` (crash, SIGKILL);
 * - a snapshot is a consistent cut (taken in one go from the server's memory, see takeSnapshot); it is written to
 *   the file after that;
 * - restored documents get new `_etag`, `_ts`, `_rid` and `_self` (an etag kept from before a restart is stale:
 *   IfMatch answers 412), and TTL countdowns restart from the restore;
 * - stored procedures, triggers, UDFs, users, permissions, offers/throughput and the change feed position are not
 *   kept.
 */
import { CosmosClient, type CosmosClientOptions, type ContainerDefinition } from '@azure/cosmos';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createCosmosServer, type CosmosRequestListener, type ExportedDatabase } from './cosmos-server';

/** The well-known key of the Azure Cosmos DB Emulator (public); cosmosdb-server accepts any well-formed key. */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export const SNAPSHOT_FILE = 'cosmos-snapshot.json';

export interface StartCosmosOptions {
  /** Folder for the snapshot file (created if missing). Absent: in memory only. */
  dataDir?: string;
  /** Fixed port; 0 or absent: a free one. */
  port?: number;
  /** With dataDir: snapshot this often when something was written (default 5000; 0 disables the timer). */
  snapshotIntervalMs?: number;
  /** Keep connections open between requests (benchmarks: tens of thousands of requests). Default: close each. */
  keepAlive?: boolean;
}

export interface CosmosSnapshot {
  version: 1;
  takenAt: string;
  databases: Array<{
    id: string;
    containers: Array<{
      definition: Pick<ContainerDefinition, 'id' | 'partitionKey' | 'defaultTtl' | 'uniqueKeyPolicy' | 'indexingPolicy'>;
      items: Array<Record<string, unknown>>;
    }>;
  }>;
}

export interface CosmosEmulatorHandle {
  /** http://127.0.0.1:PORT/ */
  endpoint: string;
  key: string;
  port: number;
  /** Spread into CosmosClient options: `{endpoint, key, ...clientOptions}`. */
  clientOptions: Pick<CosmosClientOptions, 'connectionPolicy'>;
  /** A client for this emulator; disposed by `stop()`. */
  createClient(): CosmosClient;
  dataDir: string | undefined;
  /** Writes the snapshot now (dataDir only; resolves without doing anything otherwise). */
  snapshot(): Promise<void>;
  /** Snapshot (dataDir only), close the server and every client it made. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Calls `listener` after every request with what it did and its estimated RU charge (cosmos-request-log.ts);
   * returns the function that stops it. Without a listener the server does no bookkeeping.
   */
  onRequest(listener: CosmosRequestListener): () => void;
}

const SYSTEM_PROPS = ['_rid', '_self', '_etag', '_ts', '_attachments', '_lsn'];

function stripSystem(doc: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...doc };
  for (const key of SYSTEM_PROPS) delete copy[key];
  return copy;
}

/**
 * Every database, container definition and document, as one consistent cut: read synchronously from the server's
 * memory, so no request lands half-way (a document and the counters written with it in one batch are both in, or
 * both out).
 */
export function takeSnapshot(state: ExportedDatabase[]): CosmosSnapshot {
  return {
    version: 1,
    takenAt: new Date().toISOString(),
    databases: state.map((db) => ({
      id: db.id,
      containers: db.containers.map((c) => {
        const definition: CosmosSnapshot['databases'][number]['containers'][number]['definition'] = { id: c.definition.id };
        if (c.definition.partitionKey) definition.partitionKey = c.definition.partitionKey;
        if (c.definition.defaultTtl !== undefined) definition.defaultTtl = c.definition.defaultTtl;
        if (c.definition.uniqueKeyPolicy) definition.uniqueKeyPolicy = c.definition.uniqueKeyPolicy;
        if (c.definition.indexingPolicy) definition.indexingPolicy = c.definition.indexingPolicy;
        return { definition, items: c.items.map(stripSystem) };
      }),
    })),
  };
}

/** Recreates what a snapshot holds (databases and containers if missing; documents by upsert). */
export async function restoreSnapshot(client: CosmosClient, snapshot: CosmosSnapshot): Promise<void> {
  if (snapshot.version !== 1) throw new Error(`unknown Cosmos snapshot version ${String(snapshot.version)}`);
  for (const db of snapshot.databases) {
    const { database } = await client.databases.createIfNotExists({ id: db.id });
    for (const c of db.containers) {
      const { container } = await database.containers.createIfNotExists(c.definition);
      for (let i = 0; i < c.items.length; i += 50) {
        await Promise.all(c.items.slice(i, i + 50).map((item) => container.items.upsert(item)));
      }
    }
  }
}

function writeSnapshotFile(file: string, snapshot: CosmosSnapshot): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(snapshot));
  renameSync(tmp, file);
}

export async function startCosmosEmulator(options: StartCosmosOptions = {}): Promise<CosmosEmulatorHandle> {
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
  const snapshotFile = dataDir ? path.join(dataDir, SNAPSHOT_FILE) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });

  const { server, onRequest, exportState } = createCosmosServer({ keepAlive: options.keepAlive === true });
  let dirty = false;
  server.on('request', (req: http.IncomingMessage) => {
    // Writes are POST/PUT/PATCH/DELETE; queries are POSTs marked as queries (the snapshot's own reads among them).
    const isQuery =
      String(req.headers['x-ms-documentdb-isquery']).toLowerCase() === 'true' || req.headers['content-type'] === 'application/query+json';
    if (req.method !== 'GET' && req.method !== 'HEAD' && !isQuery) dirty = true;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}/`;
  const clientOptions = { connectionPolicy: { enableEndpointDiscovery: false } };
  const clients = new Set<CosmosClient>();
  const createClient = (): CosmosClient => {
    const client = new CosmosClient({ endpoint, key: EMULATOR_KEY, ...clientOptions });
    clients.add(client);
    return client;
  };
  // Our own client for snapshots, kept apart so user code disposing theirs does not matter.
  const internal = new CosmosClient({ endpoint, key: EMULATOR_KEY, ...clientOptions });

  const closeServer = async (): Promise<void> => {
    for (const c of clients) c.dispose();
    clients.clear();
    internal.dispose();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  if (snapshotFile && existsSync(snapshotFile)) {
    try {
      const snap = JSON.parse(readFileSync(snapshotFile, 'utf8')) as CosmosSnapshot;
      await restoreSnapshot(internal, snap);
    } catch (err) {
      await closeServer();
      throw new Error(`could not restore the Cosmos snapshot ${snapshotFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  dirty = false;

  let inFlight: Promise<void> | undefined;
  const snapshot = (): Promise<void> => {
    if (!snapshotFile) return Promise.resolve();
    // Chain so two snapshots never write at once and the later one sees the later state.
    const run = async (): Promise<void> => {
      dirty = false;
      writeSnapshotFile(snapshotFile, takeSnapshot(exportState()));
    };
    inFlight = (inFlight ?? Promise.resolve()).catch(() => undefined).then(run);
    return inFlight;
  };

  let timer: NodeJS.Timeout | undefined;
  const interval = options.snapshotIntervalMs ?? 5000;
  if (snapshotFile && interval > 0) {
    timer = setInterval(() => {
      if (!dirty) return;
      snapshot().catch((err: unknown) => {
        dirty = true;
        process.emitWarning(`Cosmos snapshot failed: ${(err as Error).message}`);
      });
    }, interval);
    timer.unref();
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (timer) clearInterval(timer);
      try {
        if (snapshotFile) await snapshot();
      } finally {
        await closeServer();
      }
    })();
    return stopping;
  };

  return { endpoint, key: EMULATOR_KEY, port, clientOptions, createClient, dataDir, snapshot, stop, onRequest };
}
