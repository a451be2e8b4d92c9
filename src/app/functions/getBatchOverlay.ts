/**
 * GET /api/batches/{batchId}/labels/{name}/overlay: the image with its predicted boxes (and the ground truth,
 * dashed, when a per-image ground-truth file is found; `?groundTruth=false` leaves it out). PNG by default (exact
 * pixels, ~1.5 MB at 1280x720); `?format=jpeg` (~170 KB) is the one for browsing a batch.
 *   200 image/png or image/jpeg | 400 invalid id, name or query | 404 unknown batch / no label / image blob gone
 *   409 label-pending, or label-stale (the image was replaced after it was labeled; its new labels are coming)
 *   422 label-failed
 * The header `x-ground-truth` names the ground-truth blob drawn, or says `none`.
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readImage } from '../../adapters/image/intake';
import { renderOverlay } from '../../adapters/image/overlay';
import { labeledDocument, PENDING_RETRY_AFTER_SECONDS } from '../http/batch-labels';
import { findGroundTruth } from '../services/image-ground-truth';
import { queryParams, respond, routeParams, type HandlerResult } from '../http/handle';
import { BatchImageParams } from '../http/params';
import { bytes, conflict, notFound } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { BLOB_CONTAINERS } from '../store/names';

const Query = z.object({ groundTruth: z.enum(['true', 'false']).default('true'), format: z.enum(['png', 'jpeg']).default('png') });

export async function getBatchOverlay(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const app = appRuntime();
    const { batchId, name } = routeParams(request, BatchImageParams);
    const { groundTruth: wantGroundTruth, format } = queryParams(request, Query);
    const doc = await labeledDocument(app, batchId, name);
    const [blob, batch] = await Promise.all([app.blobs.read(BLOB_CONTAINERS.images, `${batchId}/${name}`), app.batches.get(batchId)]);
    if (!blob) return notFound('image-not-found', `the image ${BLOB_CONTAINERS.images}/${batchId}/${name} is gone (its label remains)`);
    if (blob.etag !== doc.blob.etag) {
      return conflict(
        'label-stale',
        `${name} was replaced after it was labeled; the stored labels describe the earlier image and its new labels are on the way`,
        { batchId, name, labeledEtag: doc.blob.etag, currentEtag: blob.etag },
        { 'retry-after': String(PENDING_RETRY_AFTER_SECONDS) },
      );
    }
    const [image, groundTruth] = await Promise.all([
      readImage(blob.data, name, app.settings.labeling.limits),
      wantGroundTruth === 'true' && batch ? findGroundTruth(app, batch, name, context) : undefined,
    ]);
    const overlay = await renderOverlay({
      image,
      predictions: doc.frame,
      ...(groundTruth ? { groundTruth: groundTruth.frame } : {}),
      format,
    });
    return bytes(overlay, `image/${format}`, {
      'x-ground-truth': groundTruth ? `${BLOB_CONTAINERS.groundTruth}/${groundTruth.blob}` : 'none',
      'cache-control': 'private, max-age=60',
    });
  });
}

app.http('getBatchOverlay', {
  methods: ['GET'],
  route: 'batches/{batchId}/labels/{name}/overlay',
  authLevel: 'function',
  handler: withRedaction(getBatchOverlay),
});
