/**
 * A zip archive produced entry by entry as a web ReadableStream (the HTTP response of a batch export): fflate
 * deflates each entry as it comes and hands the archive's bytes on, so a batch of any size is never held whole.
 * fflate: pure JavaScript, no dependencies, streaming zip (node:zlib has deflate but no zip container).
 */
import { Zip, ZipDeflate } from 'fflate';

export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  data: Uint8Array | string;
}

export function zipStream(entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let iterator: AsyncIterator<ZipEntry> | Iterator<ZipEntry> | undefined;
  let zip: Zip | undefined;
  const pending: Uint8Array[] = [];
  let finished = false;
  let failure: unknown;
  return new ReadableStream<Uint8Array>({
    start() {
      zip = new Zip((error, chunk, final) => {
        if (error) failure = error;
        else {
          pending.push(chunk);
          if (final) finished = true;
        }
      });
      iterator = Symbol.asyncIterator in entries ? entries[Symbol.asyncIterator]() : (entries as Iterable<ZipEntry>)[Symbol.iterator]();
    },
    // One entry per pull: the consumer's pace decides how much is read from the source.
    async pull(controller) {
      while (pending.length === 0 && !finished && failure === undefined) {
        const next = await iterator!.next();
        if (next.done) {
          zip!.end();
          continue;
        }
        const file = new ZipDeflate(next.value.name, { level: 6 });
        zip!.add(file);
        file.push(typeof next.value.data === 'string' ? encoder.encode(next.value.data) : next.value.data, true);
      }
      if (failure !== undefined) return controller.error(failure);
      while (pending.length) controller.enqueue(pending.shift()!);
      if (finished) controller.close();
    },
  });
}
