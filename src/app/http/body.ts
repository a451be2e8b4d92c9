/**
 * Request bodies with a size cap: a Content-Length over the cap is refused before a byte is read, and the stream is
 * read only until the running count passes the cap (chunked uploads announce no length).
 */
import type { HttpRequest } from '@azure/functions';
import { HttpProblem } from './handle';
import { payloadTooLarge } from './responses';

/** The declared Content-Length, or undefined when absent or not a plain non-negative integer. */
export function declaredLength(request: HttpRequest): number | undefined {
  const value = request.headers.get('content-length');
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

const tooLarge = (size: string, maxBytes: number) =>
  new HttpProblem(payloadTooLarge(`the request body is ${size}, over the limit of ${maxBytes} bytes`, maxBytes));

/** The whole body as bytes (empty when there is none). Throws HttpProblem 413 past `maxBytes`. */
export async function readBody(request: HttpRequest, maxBytes: number): Promise<Uint8Array> {
  const declared = declaredLength(request);
  if (declared !== undefined && declared > maxBytes) throw tooLarge(`${declared} bytes (Content-Length)`, maxBytes);
  const stream = request.body;
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
      total += chunk.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(`more than ${maxBytes} bytes`, maxBytes);
      }
      chunks.push(chunk);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, total);
}
