import { app } from '@azure/functions';
import { setAppRuntime } from '../runtime';

/**
 * When the worker shuts down (scale-in, restart, the local host stopping), close the runtime: the local models'
 * worker threads end and the SDK clients release their connections, instead of the process being cut off mid-run.
 */
app.hook.appTerminate(() => setAppRuntime(undefined));
