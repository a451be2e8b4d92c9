/**
 * Reads a request body into memory with a size cap. A declared Content-Length over the cap is refused before a
 * byte is read; a chunked body is refused as soon as the running count passes the cap, so an oversized upload never
 * sits in memory.
 */
import type { IncomingMessage } from 'node:http';

export class RequestTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the request body is larger than the ${limitBytes}-byte limit`);
    this.name = 'RequestTooLargeError';
  }
}

/** True when the request announces a body larger than the cap (Content-Length); chunked bodies announce nothing. */
export function declaresTooLarge(req: IncomingMessage, maxBytes: number): boolean {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && declared > maxBytes;
}

export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  if (declaresTooLarge(req, maxBytes)) return Promise.reject(new RequestTooLargeError(maxBytes));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanUp = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanUp();
        // Stop buffering; the caller answers 413 and deals with the rest of the upload.
        req.pause();
        chunks.length = 0;
        reject(new RequestTooLargeError(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanUp();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanUp();
      reject(error);
    };
    const onClose = () => {
      // 'close' before 'end': the client went away mid-body.
      if (!req.complete) onError(new Error('the client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
