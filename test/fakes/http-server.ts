/**
 * A local HTTP server for provider tests: each test scripts the answers (status, headers, body, delay) and reads
 * back the requests the real SDK sent. Listens on 127.0.0.1 with an ephemeral port; nothing leaves the machine.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Parsed when the body is JSON, else undefined. */
  json?: unknown;
}

export interface ScriptedResponse {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings and buffers as they are. */
  body?: unknown;
  /** Wait before answering (a hang past the client's timeout when long enough). */
  delayMs?: number;
}

export type Responder = (request: RecordedRequest, index: number) => ScriptedResponse | Promise<ScriptedResponse>;

export interface FakeServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A port nothing listens on: connections to it are refused at once (an unreachable service). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startFakeServer(respond: Responder): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let json: unknown;
    try {
      json = body.length && /json/.test(req.headers['content-type'] ?? '') ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, json };
    requests.push(recorded);
    const answer = await respond(recorded, requests.length - 1);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (res.destroyed) return;
    const isJson = answer.body !== undefined && typeof answer.body !== 'string' && !Buffer.isBuffer(answer.body);
    const payload = isJson ? JSON.stringify(answer.body) : ((answer.body as string | Buffer | undefined) ?? '');
    res.writeHead(answer.status ?? 200, {
      ...(isJson ? { 'content-type': 'application/json' } : {}),
      ...answer.headers,
    });
    res.end(payload);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
