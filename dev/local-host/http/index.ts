/** Local HTTP host for the Functions app (what `func start` serves), for runs and tests without Core Tools. */
export {
  DEFAULT_MAX_REQUEST_BYTES,
  startHttpHost,
  type HttpHost,
  type HttpHostOptions,
  type HttpRoute,
  type RouteHandler,
} from './http-host';
