/**
 * `npm start`: the whole app on this machine, no Azure account and no Core Tools. Ctrl-C stops it cleanly (data
 * stays in the data folder for the next start); a second Ctrl-C exits at once.
 *
 *   npm start [-- --data-dir <dir>] [--port 7071] [--external-services]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_LOCAL_DATA_DIR } from '../endpoints';
import { startLocalHost } from './start-host';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string', default: DEFAULT_LOCAL_DATA_DIR },
      port: { type: 'string', default: '7071' },
      'external-services': { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  const host = await startLocalHost({ dataDir: values['data-dir'], port, services: values['external-services'] ? 'external' : 'start' });

  process.stdout.write(
    [
      '',
      `autolabel local host ready (labeling: ${host.runtime.settings.labelingSource})`,
      `  blob trigger: images/{batchId}/{name} (drop a folder in with: npm run upload -- <images dir> --batch <id> --gt <labels>)`,
      ...Object.entries(host.timers.next()).map(([name, next]) => `  timer ${name}: next run ${next ?? 'never'}`),
      'Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write('stopping (Ctrl-C again to exit at once)...\n');
    host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`autolabel host: ${(error as Error).message}\n`);
  process.exit(1);
});
