/**
 * GET /api/batches/{batchId}/export?format=labelstudio|cvat|yolo|coco|scalabel[&imagesUrl=<prefix>]: the batch's
 * labeled frames as one download for a labeling tool, the same files as `autolabel export`.
 *   labelstudio: tasks JSON (the labeling config: ?format=labelstudio-config) | cvat: CVAT for images 1.1 XML
 *   scalabel: one frame list | yolo: zip of labels/<stem>.txt, classes.txt, data.yaml
 *   coco: zip of instances.json (+ results.json when boxes carry scores)
 *   200 the file (Content-Disposition: attachment) | 400 bad format | 404 unknown batch
 * The frames are read from Cosmos DB a page at a time and the body is produced as it is read (a stream), so the
 * function never holds a large batch's output as one string. COCO is the exception: its image ids tie the two
 * documents together, so it is built whole.
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import {
  cvatDocument,
  documentPieces,
  framesToCocoInterchange,
  labelStudioConfigXml,
  labelStudioDocument,
  scalabelListDocument,
  yoloFiles,
  type StreamedDocument,
} from '../../core/interchange';
import type { Frame } from '../../core/labels/schema';
import { zipStream, type ZipEntry } from '../../adapters/interchange/zip-stream';
import { HttpProblem, queryParams, respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchParams } from '../http/params';
import { notFound } from '../http/responses';
import { withRedaction } from '../redacted-context';
import { appRuntime } from '../runtime';

const ExportQuery = z.object({
  format: z.enum(['labelstudio', 'labelstudio-config', 'cvat', 'yolo', 'coco', 'scalabel']),
  imagesUrl: z.string().max(2048).optional(),
});

const encoder = new TextEncoder();

/** Pieces of text as a byte stream, pulled one piece at a time. */
function textStream(pieces: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const iterator = pieces[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
  });
}

function download(body: ReadableStream<Uint8Array> | string, contentType: string, fileName: string): HandlerResult {
  return {
    status: 200,
    body,
    headers: { 'content-type': contentType, 'content-disposition': `attachment; filename="${fileName}"` },
  };
}

export async function getBatchExport(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const { batchId } = routeParams(request, BatchParams);
    const { format, imagesUrl } = queryParams(request, ExportQuery);
    const runtime = appRuntime();
    if (!(await runtime.batches.get(batchId))) throw new HttpProblem(notFound('batch-not-found', `no batch ${batchId}`));
    async function* frames(): AsyncGenerator<Frame> {
      for await (const page of runtime.labels.labeledFramePages(batchId)) yield* page;
    }
    const streamed = (document: StreamedDocument, contentType: string, fileName: string) =>
      download(textStream(documentPieces(document, frames())), contentType, fileName);
    context.log(JSON.stringify({ event: 'batch-exported', batchId, format }));
    switch (format) {
      case 'labelstudio':
        return streamed(labelStudioDocument(imagesUrl ? { imagesUrl } : {}), 'application/json', `${batchId}-labelstudio.json`);
      case 'labelstudio-config':
        return download(labelStudioConfigXml(), 'application/xml', `${batchId}-labelstudio.config.xml`);
      case 'cvat':
        return streamed(cvatDocument({ taskName: batchId }), 'application/xml', `${batchId}-cvat.xml`);
      case 'scalabel':
        return streamed(scalabelListDocument(), 'application/json', `${batchId}-scalabel.json`);
      case 'yolo': {
        async function* entries(): AsyncGenerator<ZipEntry> {
          for await (const file of yoloFiles(frames())) yield { name: file.path, data: file.text };
        }
        return download(zipStream(entries()), 'application/zip', `${batchId}-yolo.zip`);
      }
      case 'coco': {
        const all: Frame[] = [];
        for await (const frame of frames()) all.push(frame);
        const coco = framesToCocoInterchange(all);
        const entries: ZipEntry[] = [{ name: 'instances.json', data: JSON.stringify(coco.instances) }];
        if (coco.results) entries.push({ name: 'results.json', data: JSON.stringify(coco.results) });
        return download(zipStream(entries), 'application/zip', `${batchId}-coco.zip`);
      }
    }
  });
}

app.http('getBatchExport', {
  methods: ['GET'],
  route: 'batches/{batchId}/export',
  authLevel: 'function',
  handler: withRedaction(getBatchExport),
});
