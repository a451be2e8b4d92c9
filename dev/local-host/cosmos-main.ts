/**
 * The Cosmos DB stand-in as a process of its own, so that it can be stopped, or killed, apart from the host (as a
 * database outlives a Functions host in Azure). Prints one line `cosmos-ready <endpoint>` once it serves; SIGTERM or
 * SIGINT snapshots and stops it. A SIGKILL loses the writes since the last snapshot (see cosmos-emulator.ts).
 *
 *   node --import tsx dev/local-host/cosmos-main.ts --port 8081 --data-dir .autolabel-local/cosmos [--snapshot-interval-ms 1000]
 */
import { parseArgs } from 'node:util';
import { startCosmosEmulator } from './cosmos-emulator';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'data-dir': { type: 'string' },
      'snapshot-interval-ms': { type: 'string', default: '1000' },
    },
  });
  const port = Number(values.port);
  const interval = Number(values['snapshot-interval-ms']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  if (!Number.isInteger(interval) || interval < 0)
    throw new Error(`--snapshot-interval-ms must be a whole number, got ${values['snapshot-interval-ms']}`);
  const cosmos = await startCosmosEmulator({
    port,
    snapshotIntervalMs: interval,
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
  });
  process.stdout.write(`cosmos-ready ${cosmos.endpoint}\n`);
  const stop = () => {
    cosmos.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`cosmos stand-in: stop failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Started by a parent that went away: stop with it rather than linger.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`cosmos stand-in: ${(error as Error).message}\n`);
  process.exit(1);
});
