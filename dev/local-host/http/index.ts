/** Local HTTP host for the Functions app (what `func start` serves), for runs and tests without Core Tools. */
export {
  DEFAULT_MAX_REQUEST_BYTES,
  startHttpHost,
  type ExtraHttpRoute,
  type HttpHost,
  type HttpHostOptions,
  type LocalHttpFunction,
} from './http-host';
export { compileRouteTemplate, type CompiledRoute } from './route-template';
