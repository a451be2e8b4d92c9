/**
 * The local HTTP host (`func start` stand-in): real handlers written as the app writes them, called over HTTP with
 * node's fetch. Routing (params with dots, constraints, optional, catch-all, precedence, case), methods (404/405),
 * bodies (bytes, JSON, oversized → 413 with and without Content-Length), responses (init objects, HttpResponse
 * instances, binary, streams, cookies, HEAD, 204), failures (500 without leaking), logs, and close(). The host's own
 * answers use the app's error shape with a stable code, and every answer carries X-Content-Type-Options: nosniff.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HttpResponse, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { invocationContextFor, type RegisteredFunction } from '../dev/local-host/functions-runtime';
import { startHttpHost, type HttpHost, type HttpRoute } from '../dev/local-host/http';

// A 1x1 PNG: the bytes include 0x89 and NULs, which any text decoding on the way would corrupt.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const ALL_BYTE_VALUES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const LIMIT = 64 * 1024;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The app's error shape, which the host's own answers use too. */
const HostErrorBody = z.strictObject({ error: z.looseObject({ code: z.string(), message: z.string().min(1) }) });

/** The error of an answer, checked: its status, JSON content type, the documented shape and the code. */
async function hostError(res: Response, status: number, code: string): Promise<z.infer<typeof HostErrorBody>['error']> {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const { error } = HostErrorBody.parse(await res.json());
  assert.equal(error.code, code);
  return error;
}

// ---- Handlers, written the way the app's functions are ----

async function getLabel(request: HttpRequest, context: InvocationContext) {
  context.log(`label ${request.params.name} of batch ${request.params.batchId}`);
  return {
    jsonBody: {
      batchId: request.params.batchId,
      name: request.params.name,
      view: request.query.get('view'),
      tags: request.query.getAll('tag'),
      invocationId: context.invocationId,
      functionName: context.functionName,
    },
  };
}

let postLabelCalls = 0;
async function postLabel(request: HttpRequest) {
  postLabelCalls++;
  const bytes = new Uint8Array(await request.arrayBuffer());
  return {
    status: 202,
    headers: { location: `/api/labels/${sha256(bytes).slice(0, 8)}` },
    jsonBody: { bytes: bytes.length, sha256: sha256(bytes), contentType: request.headers.get('content-type') },
  };
}

async function echoImage(request: HttpRequest) {
  const body = await request.arrayBuffer(); // ArrayBuffer body back out
  return { headers: { 'content-type': request.headers.get('content-type') ?? 'application/octet-stream' }, body };
}

async function createBatch(request: HttpRequest) {
  let input: unknown;
  try {
    input = await request.json();
  } catch {
    return { status: 400, jsonBody: { error: 'body must be JSON' } };
  }
  const { name, images } = (input ?? {}) as { name?: unknown; images?: unknown };
  if (typeof name !== 'string' || !Array.isArray(images)) {
    return { status: 400, jsonBody: { error: 'name and images are required' } };
  }
  return new HttpResponse({ status: 201, jsonBody: { id: 'b-1', name, imageCount: images.length }, headers: { 'x-batch': 'b-1' } });
}

async function batchReport(request: HttpRequest) {
  const summary = { batchId: request.params.batchId, labeled: 3 };
  if ((request.headers.get('accept') ?? '').includes('text/html')) {
    return { headers: { 'content-type': 'text/html; charset=utf-8' }, body: `<h1>Batch ${summary.batchId}</h1><p>3 labeled</p>` };
  }
  return { jsonBody: summary };
}

async function overlayPng() {
  return { headers: { 'content-type': 'image/png', 'cache-control': 'no-store' }, body: PNG };
}

type Handler = (request: HttpRequest, context: InvocationContext) => unknown;

/**
 * A function as the local host serves it: route, methods (the library's GET and POST by default), and a fresh
 * context per call made as start-host makes it (invocationContextFor: context.log goes to the host log).
 */
const fn = (name: string, options: { methods?: string[]; route?: string; handler: Handler }): HttpRoute => {
  const registered: RegisteredFunction = {
    name,
    trigger: { type: 'httpTrigger', direction: 'in', name: 'request' },
    extraInputs: [],
    callback: (request, context) => options.handler(request as HttpRequest, context),
  };
  return {
    name,
    methods: options.methods ?? ['GET', 'POST'],
    route: options.route ?? name,
    handler: (request, invocationId) =>
      registered.callback(request, invocationContextFor(registered, { invocationId, log: (line) => logLines.push(line) })),
  };
};

const functions = [
  fn('labelsGet', { methods: ['GET'], route: 'batches/{batchId}/labels/{name}', handler: getLabel }),
  fn('labelsPost', { methods: ['POST'], route: 'labels', handler: postLabel }),
  fn('imagesEcho', { methods: ['POST', 'PUT'], route: 'images/echo', handler: echoImage }),
  fn('batchesCreate', { methods: ['POST'], route: 'batches', handler: createBatch }),
  fn('batchesReport', { methods: ['GET'], route: 'batches/{batchId}/report', handler: batchReport }),
  fn('overlay', { methods: ['GET', 'HEAD'], route: 'batches/{batchId}/overlays/{name}', handler: overlayPng }),
  fn('itemBySlug', { methods: ['GET'], route: 'items/{slug}', handler: async (r) => ({ jsonBody: { by: 'slug', slug: r.params.slug } }) }),
  fn('itemNew', { methods: ['GET'], route: 'items/new', handler: async () => ({ jsonBody: { by: 'literal' } }) }),
  // No route: served at its name; no methods: the library's default GET and POST.
  fn('health', { handler: async () => ({ body: 'ok' }) }),
  fn('boom', {
    methods: ['GET'],
    route: 'boom',
    handler: async () => {
      throw new Error('secret connection string xyz');
    },
  }),
  fn('badResult', { methods: ['GET'], route: 'bad-result', handler: (async () => 'just a string') as never }),
  // Returning nothing is outside the handler's type, but plain JS handlers do it.
  fn('nothing', { methods: ['POST'], route: 'nothing', handler: (async () => undefined) as never }),
  // fetch's Request refuses TRACE, so the host cannot build the HttpRequest: its own 400.
  fn('trace', { methods: ['TRACE'], route: 'trace', handler: async () => ({ body: 'never' }) }),
  fn('stream', {
    methods: ['GET'],
    route: 'stream/{kind}',
    handler: async (r) => {
      const parts = ['alpha,', 'beta,', 'gamma'];
      if (r.params.kind === 'web') {
        return {
          body: new ReadableStream({
            start(c) {
              parts.forEach((p) => c.enqueue(new TextEncoder().encode(p)));
              c.close();
            },
          }),
        };
      }
      if (r.params.kind === 'broken') {
        return {
          body: (async function* () {
            yield new TextEncoder().encode('partial');
            throw new Error('disk gone');
          })(),
        };
      }
      return {
        body: (async function* () {
          for (const p of parts) yield new TextEncoder().encode(p);
        })(),
      };
    },
  }),
];

const durableStatus = {
  name: 'durableStatus',
  methods: ['GET'],
  route: 'runtime/webhooks/durabletask/instances/{instanceId}',
  handler: async (r: HttpRequest) => ({ jsonBody: { instanceId: r.params.instanceId, runtimeStatus: 'Running' } }),
};

let host: HttpHost;
const logLines: string[] = [];

before(async () => {
  host = await startHttpHost({ functions, port: 0, maxRequestBytes: LIMIT, extraRoutes: [durableStatus], log: (l) => logLines.push(l) });
});
after(async () => {
  await host.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${host.url}${path}`, init);

describe('routing', () => {
  test('params with dots, query with repeated keys, a fresh context per invocation', async () => {
    const res = await get('/api/batches/b-42/labels/0a0a0b1a-7c39d841.jpg?view=full&tag=car&tag=bus');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(
      { ...body, invocationId: undefined },
      {
        batchId: 'b-42',
        name: '0a0a0b1a-7c39d841.jpg',
        view: 'full',
        tags: ['car', 'bus'],
        invocationId: undefined,
        functionName: 'labelsGet',
      },
    );
    assert.match(String(body.invocationId), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const again = (await (await get('/api/batches/b-42/labels/x.jpg')).json()) as { invocationId: string };
    assert.notEqual(again.invocationId, body.invocationId);
    assert.ok(logLines.includes('[labelsGet] label 0a0a0b1a-7c39d841.jpg of batch b-42'), 'context.log goes to the host log');
    assert.ok(logLines.includes(`\tlabelsGet: [GET] ${host.url}/api/batches/{batchId}/labels/{name}`), 'startup lists the functions');
    assert.ok(logLines.some((l) => l.startsWith(`Executed 'Functions.labelsGet' (Succeeded, Id=${body.invocationId}`)));
  });

  test('params are percent-decoded', async () => {
    const body = (await (await get('/api/batches/b%201/labels/a%20b%2Bc.jpg')).json()) as Record<string, unknown>;
    assert.deepEqual([body.batchId, body.name], ['b 1', 'a b+c.jpg']);
  });

  test('literals match case-insensitively; a function without a route is served at its name', async () => {
    assert.equal(await (await get('/API/Health')).text(), 'ok');
    assert.equal((await get('/api/BATCHES/b1/Labels/x.jpg')).status, 200);
    assert.equal((await get('/api/health/')).status, 200, 'a trailing slash is ignored');
  });

  test('literal segments win over parameters, whatever the registration order', async () => {
    assert.deepEqual(await (await get('/api/items/new')).json(), { by: 'literal' });
    assert.deepEqual(await (await get('/api/items/abc')).json(), { by: 'slug', slug: 'abc' });
  });

  test('extra routes live at the root, outside the prefix', async () => {
    const res = await get('/runtime/webhooks/durabletask/instances/abc-123');
    assert.deepEqual(await res.json(), { instanceId: 'abc-123', runtimeStatus: 'Running' });
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', 'the host adds it to routes that do not');
    assert.equal((await get('/api/runtime/webhooks/durabletask/instances/abc-123')).status, 404);
  });

  test('unknown path: 404 not-found; known path, other method: 405 method-not-allowed with Allow', async () => {
    const missing = await hostError(await get('/api/nope'), 404, 'not-found');
    assert.match(missing.message, /No function serves \/api\/nope/);
    assert.equal((await get('/labels')).status, 404, 'functions are only under the prefix');

    const wrong = await get('/api/labels', { method: 'DELETE' });
    assert.equal(wrong.headers.get('allow'), 'POST');
    const refused = await hostError(wrong, 405, 'method-not-allowed');
    assert.match(refused.message, /Method DELETE is not allowed on \/api\/labels/);
    assert.deepEqual(refused.allow, ['POST']);
    const defaults = await get('/api/health', { method: 'PUT' });
    assert.equal(defaults.status, 405);
    assert.equal(defaults.headers.get('allow'), 'GET, POST');
  });
});

describe('request bodies', () => {
  test('POST labels: image bytes arrive intact', async () => {
    const image = Buffer.concat([PNG, ALL_BYTE_VALUES]);
    const res = await get('/api/labels', { method: 'POST', headers: { 'content-type': 'image/png' }, body: image });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { bytes: image.length, sha256: sha256(image), contentType: 'image/png' });
    assert.equal(res.headers.get('location'), `/api/labels/${sha256(image).slice(0, 8)}`);
  });

  test('binary round trip: request bytes back as an ArrayBuffer body', async () => {
    const res = await get('/api/images/echo', { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: ALL_BYTE_VALUES });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), ALL_BYTE_VALUES);
  });

  test('JSON body; an HttpResponse instance with its headers', async () => {
    const res = await get('/api/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'night', images: ['a', 'b'] }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { id: 'b-1', name: 'night', imageCount: 2 });
    assert.equal(res.headers.get('x-batch'), 'b-1');
    const bad = await get('/api/batches', { method: 'POST', body: '{not json' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'body must be JSON' });
  });

  test('413 for a body over the limit with Content-Length, and the handler is not called', async () => {
    const before = postLabelCalls;
    const res = await get('/api/labels', { method: 'POST', body: Buffer.alloc(LIMIT + 1) });
    const error = await hostError(res, 413, 'payload-too-large');
    assert.match(error.message, new RegExp(`${LIMIT} bytes`));
    assert.equal(error.limitBytes, LIMIT);
    assert.equal(postLabelCalls, before);
    const atLimit = await get('/api/labels', { method: 'POST', body: Buffer.alloc(LIMIT) });
    assert.equal(atLimit.status, 202, 'exactly the limit is allowed');
  });

  test('Expect: 100-continue: an oversized body is refused before it is sent, a small one is let through', async () => {
    const post = (size: number) =>
      new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
        const req = http.request(`${host.url}/api/labels`, {
          method: 'POST',
          headers: { expect: '100-continue', 'content-length': size, 'content-type': 'image/png' },
        });
        let continued = false;
        req.on('continue', () => {
          continued = true;
          req.end(Buffer.alloc(size));
        });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, body }));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    const big = await post(LIMIT + 1);
    assert.deepEqual([big.status, big.continued], [413, false]);
    const refused = HostErrorBody.parse(JSON.parse(big.body)).error;
    assert.deepEqual([refused.code, refused.limitBytes], ['payload-too-large', LIMIT]);
    const small = await post(10);
    assert.deepEqual([small.status, small.continued, (JSON.parse(small.body) as { bytes: number }).bytes], [202, true, 10]);
  });

  test('413 for a chunked body (no Content-Length) that grows past the limit; the host keeps serving', async () => {
    const before = postLabelCalls;
    let sent = 0;
    const chunks = 4 * 1024; // 16 KiB each: 64 MiB offered, far more than the limit
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= chunks) controller.close();
        else controller.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const res = await get('/api/labels', { method: 'POST', body, duplex: 'half' } as RequestInit);
    assert.equal((await hostError(res, 413, 'payload-too-large')).limitBytes, LIMIT);
    assert.equal(postLabelCalls, before);
    assert.ok(sent < chunks, `the host stopped the upload early (${sent} of ${chunks} chunks pulled)`);
    assert.equal((await get('/api/health')).status, 200);
  });
});

describe('responses', () => {
  test('HTML or JSON by Accept', async () => {
    const html = await get('/api/batches/b7/report', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await html.text(), '<h1>Batch b7</h1><p>3 labeled</p>');
    const json = await get('/api/batches/b7/report', { headers: { accept: 'application/json' } });
    assert.deepEqual(await json.json(), { batchId: 'b7', labeled: 3 });
  });

  test('PNG bytes intact; HEAD gives the headers and length without the body', async () => {
    const res = await get('/api/batches/b1/overlays/0a0a0b1a-7c39d841.png');
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);

    const head = await get('/api/batches/b1/overlays/x.png', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(PNG.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal((await get('/api/batches/b1/labels/x.jpg', { method: 'HEAD' })).status, 405, 'HEAD only where declared');
  });

  test('ReadableStream and AsyncIterable bodies', async () => {
    assert.equal(await (await get('/api/stream/web')).text(), 'alpha,beta,gamma');
    assert.equal(await (await get('/api/stream/iterable')).text(), 'alpha,beta,gamma');
  });

  test('a handler that returns nothing: 204', async () => {
    const res = await get('/api/nothing', { method: 'POST' });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
  });

  test('a handler that throws: 500 internal-error with the invocation id, logged with the error, nothing leaked', async () => {
    const res = await get('/api/boom');
    const text = await res.clone().text();
    const error = await hostError(res, 500, 'internal-error');
    assert.match(error.message, /Function 'boom' failed/);
    assert.doesNotMatch(text, /secret|at .*\.ts/);
    assert.match(String(error.invocationId), /^[0-9a-f-]{36}$/);
    assert.ok(logLines.some((l) => l.startsWith(`Executed 'Functions.boom' (Failed, Id=${error.invocationId}`)));
    assert.ok(logLines.some((l) => l.startsWith('[boom] error: Error: secret connection string xyz')));
  });

  test('a non-object result or a body stream that fails: 500', async () => {
    await hostError(await get('/api/bad-result'), 500, 'internal-error');
    const broken = await get('/api/stream/broken');
    assert.doesNotMatch(await broken.clone().text(), /partial|disk gone/);
    await hostError(broken, 500, 'internal-error');
  });

  test('a request the host cannot turn into an HttpRequest: 400 bad-request, the handler is not called', async () => {
    const answer = await new Promise<{ status: number; nosniff: unknown; body: string }>((resolve, reject) => {
      const req = http.request(`${host.url}/api/trace`, { method: 'TRACE' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, nosniff: res.headers['x-content-type-options'], body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual([answer.status, answer.nosniff], [400, 'nosniff']);
    const { error } = HostErrorBody.parse(JSON.parse(answer.body));
    assert.equal(error.code, 'bad-request');
    assert.match(error.message, /^Bad request: .*TRACE/);
  });

  test('every answer carries X-Content-Type-Options: nosniff: JSON, HTML, bytes, HEAD, 204, errors', async () => {
    const answers = [
      await get('/api/batches/b1/labels/x.jpg'),
      await get('/api/batches/b7/report', { headers: { accept: 'text/html' } }),
      await get('/api/batches/b1/overlays/x.png'),
      await get('/api/batches/b1/overlays/x.png', { method: 'HEAD' }),
      await get('/api/nothing', { method: 'POST' }),
      await get('/api/nope'),
    ];
    assert.deepEqual(
      answers.map((r) => [r.status, r.headers.get('x-content-type-options')]),
      [
        [200, 'nosniff'],
        [200, 'nosniff'],
        [200, 'nosniff'],
        [200, 'nosniff'],
        [204, 'nosniff'],
        [404, 'nosniff'],
      ],
    );
  });
});

describe('lifecycle and configuration', () => {
  test('close() releases the port', async () => {
    const own = await startHttpHost({ functions, port: 0, log: () => {} });
    assert.equal((await fetch(`${own.url}/api/health`)).status, 200);
    await own.close();
    await assert.rejects(fetch(`${own.url}/api/health`));
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(own.port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => probe.close(resolve));
  });

  test('routePrefix "" serves functions at the root', async () => {
    const own = await startHttpHost({ functions, port: 0, routePrefix: '', log: () => {} });
    try {
      assert.equal(await (await fetch(`${own.url}/health`)).text(), 'ok');
      assert.equal((await fetch(`${own.url}/api/health`)).status, 404);
    } finally {
      await own.close();
    }
  });

  test('malformed or ambiguous routes fail at start', async () => {
    const handler = async () => ({ body: 'x' });
    const start = (routes: Array<{ name: string; route: string; methods?: Array<'GET' | 'POST'> }>) =>
      startHttpHost({
        port: 0,
        log: () => {},
        functions: routes.map((r) => fn(r.name, { handler, route: r.route, methods: r.methods ?? ['GET'] })),
      });
    // Only plain {name} parameters: what the app uses (constraints, catch-alls and optional parts are refused).
    for (const route of ['x/{id', 'x/{id:int}', 'x/{*rest}', 'x/{page?}', 'f/{name}.{ext}']) {
      await assert.rejects(start([{ name: 'a', route }]), /only plain \{name\} parameters are supported/, route);
    }
    await assert.rejects(
      start([
        { name: 'a', route: 'x/{a}' },
        { name: 'b', route: 'X/{b}' },
      ]),
      /both serve GET/,
    );
    const fine = await start([
      { name: 'a', route: 'x/{a}' },
      { name: 'b', route: 'x/{b}', methods: ['POST'] },
    ]);
    await fine.close();
  });
});
