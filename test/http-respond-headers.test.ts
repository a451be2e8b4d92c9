/**
 * `respond`, the frame of every HTTP handler, adds the security headers to whatever the handler answers: a plain
 * init (headers as a record, a list of pairs or a Headers object), an HttpResponse (what Durable's
 * createCheckStatusResponse returns), an HttpProblem's answer and the 500 of an unexpected error. HTML without a
 * policy of its own gets the strict one; a page's own policy is left alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpResponse, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { HttpProblem, respond, type HandlerResult } from '../src/app/http/handle';
import { notFound, ok } from '../src/app/http/responses';

const context = () => new InvocationContext({ functionName: 'probe', invocationId: 'inv-1', logHandler: () => {} });

/** What the host sends for a handler result: status and headers, resolved as the library does. */
async function answered(work: () => Promise<HandlerResult>): Promise<{ status: number; headers: Headers }> {
  const result = await respond(context(), work);
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  return { status: response.status, headers: response.headers };
}

const html = 'text/html; charset=utf-8';

test('nosniff on JSON, on every shape of headers, on HttpResponse instances, on problems and on the 500', async () => {
  const results: Array<() => Promise<HandlerResult>> = [
    async () => ok({ a: 1 }),
    async () => ({ status: 200, body: 'x', headers: [['content-type', 'text/plain']] }),
    async () => ({ status: 200, body: 'x', headers: new Headers({ 'content-type': 'text/plain' }) }),
    async () => ({ status: 204 }),
    async () => new HttpResponse({ status: 202, jsonBody: { id: 'eval-x' }, headers: { location: 'http://x/status' } }),
    async () => {
      throw new HttpProblem(notFound('thing-not-found', 'no thing'));
    },
    async () => {
      throw new Error('boom');
    },
  ];
  const answers = await Promise.all(results.map(answered));
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 204, 202, 404, 500],
  );
  for (const answer of answers) assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', String(answer.status));
  assert.equal(answers[4]!.headers.get('location'), 'http://x/status', 'the HttpResponse keeps its own headers');
});

test('a header a handler already set under another case is replaced, not doubled', async () => {
  const { headers } = await answered(async () => ({ status: 200, body: 'x', headers: { 'X-Content-Type-Options': 'sniff-away' } }));
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
});

test('HTML without a policy gets the strict one; a page with its own policy keeps it', async () => {
  const bare = await answered(async () => ({ status: 200, body: '<p>x</p>', headers: { 'content-type': html } }));
  assert.equal(bare.headers.get('content-security-policy'), "default-src 'none'");

  const ownHeaders = { 'Content-Type': html, 'Content-Security-Policy': "default-src 'self'" };
  const own: HttpResponseInit = { status: 200, body: '<p>x</p>', headers: ownHeaders };
  assert.equal((await answered(async () => own)).headers.get('content-security-policy'), "default-src 'self'");

  const json = await answered(async () => ok({ a: 1 }));
  assert.equal(json.headers.get('content-security-policy'), null, 'only HTML gets a policy');
});
