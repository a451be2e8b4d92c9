/**
 * Import this first (before anything that loads @azure/functions) in a process that needs the app's registrations:
 * @azure/functions decides once, at its first registration, whether a Functions runtime is there.
 */
import { installFunctionsRuntime } from './functions-runtime';

installFunctionsRuntime();
