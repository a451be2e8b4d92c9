/**
 * The frame every HTTP handler runs in: input is parsed with zod at the edge (a bad value throws HttpProblem, which
 * becomes its 4xx answer), anything unexpected is logged with its stack and answered 500 with the invocation id,
 * never the stack itself, and every answer leaves with the security headers (security-headers.ts).
 */
import type { HttpRequest, HttpResponse, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { formatZodError } from '../../core/labels/read';
import { describeError } from '../../core/redaction';
import { badRequest, internalError } from './responses';
import { withSecurityHeaders } from './security-headers';

export type HandlerResult = HttpResponseInit | HttpResponse;

/** A request that cannot be served, with the answer to give: thrown by the parsing helpers, caught by `respond`. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(readonly response: HttpResponseInit) {
    super(`HTTP ${response.status ?? 500}`);
  }
}

export async function respond(context: InvocationContext, work: () => Promise<HandlerResult>): Promise<HandlerResult> {
  return withSecurityHeaders(await answer(context, work));
}

async function answer(context: InvocationContext, work: () => Promise<HandlerResult>): Promise<HandlerResult> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HttpProblem) return error.response;
    context.error(`${context.functionName} failed: ${describeError(error, { stack: true })}`);
    return internalError(context.invocationId);
  }
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, code: string, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpProblem(badRequest(code, `invalid ${where}: ${formatZodError(parsed.error)}`));
  return parsed.data;
}

/** Route parameters (`{batchId}`...), validated. 400 `invalid-route-parameter` when they do not parse. */
export const routeParams = <S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> =>
  parseWith(schema, { ...request.params }, 'invalid-route-parameter', 'route parameter');

/** The query string (first value of each key), validated. 400 `invalid-query` when it does not parse. */
export function queryParams<S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> {
  const values: Record<string, string> = {};
  for (const [key, value] of request.query) if (!(key in values)) values[key] = value;
  return parseWith(schema, values, 'invalid-query', 'query');
}

/** A JSON body already read as bytes, validated; an empty body validates `undefined`. */
export function jsonBody<S extends z.ZodType>(data: Uint8Array, schema: S): z.output<S> {
  let value: unknown;
  if (data.byteLength > 0) {
    try {
      value = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch (error) {
      throw new HttpProblem(badRequest('invalid-json', `the body is not valid JSON: ${(error as Error).message}`));
    }
  }
  return parseWith(schema, value, 'invalid-body', 'body');
}
