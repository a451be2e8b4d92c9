/**
 * Once-per-file local Azurite + Cosmos stand-in for tests: call `useLocalServices()` at the top level of a test file;
 * it registers `before`/`after` hooks and returns a getter for the running services.
 *
 *   const services = useLocalServices();
 *   test('...', async () => { const { azurite, cosmos } = services(); ... });
 */
import { after, before } from 'node:test';
import { startLocalServices, type LocalServices, type StartLocalServicesOptions } from '../../dev/local-host/local-services';

export function useLocalServices(options: StartLocalServicesOptions = {}): () => LocalServices {
  let services: LocalServices | undefined;
  before(async () => {
    services = await startLocalServices(options);
  });
  after(async () => {
    await services?.stop();
  });
  return () => {
    if (!services) throw new Error('local services are not running (use them inside tests, after before())');
    return services;
  };
}
