/**
 * POST /api/labels: one image in the body, its Scalabel frame (with provenance) back, synchronously, through the
 * same labelImage the CLI and the blob trigger run. Nothing is stored.
 *
 *   200 the frame  | 400 empty body or bad ?name= | 413 over the labeling config's limits.maxBytes
 *   415 a form-encoded body (send the raw bytes) | 422 not an acceptable image (the reason says why)
 *   429 provider throttled (Retry-After) | 503 provider down or timed out | 500 anything else
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { labelImage } from '../../core/pipeline/label-image';
import { readBody } from '../http/body';
import { queryParams, respond, type HandlerResult } from '../http/handle';
import { labelingFailure } from '../http/labeling-errors';
import { ImageNameSchema } from '../http/params';
import { badRequest, ok, serviceUnavailable, unsupportedMediaType } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { imageLabeledLine } from '../services/image-labeled-log';

/**
 * The whole labeling must end well inside the 230 s that Azure's front end waits for an HTTP answer; providers
 * retry with backoff within it.
 */
export const LABELING_DEADLINE_MS = 200_000;

const Query = z.object({ name: ImageNameSchema.default('upload') });

/**
 * Form encodings cannot carry the raw image: `curl -d @img.jpg` sends application/x-www-form-urlencoded and strips
 * its newlines, `curl -F` wraps it in multipart. Any other type is accepted: the bytes decide, never the header.
 */
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'];

export async function postLabels(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const app = appRuntime();
    const { name } = queryParams(request, Query);
    const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (FORM_TYPES.includes(contentType)) {
      return unsupportedMediaType(
        `send the image bytes as the body, not ${contentType} (curl --data-binary @image.jpg -H 'content-type: image/jpeg')`,
        {
          contentType,
        },
      );
    }
    const bytes = await readBody(request, app.settings.labeling.limits.maxBytes);
    if (bytes.byteLength === 0) return badRequest('empty-body', 'the body is empty: send a JPEG or PNG image as the request body');

    const setup = await app.setup();
    const deadline = AbortSignal.timeout(LABELING_DEADLINE_MS);
    try {
      const { frame } = await labelImage(bytes, name, setup, { signal: deadline, now: () => app.now() });
      context.log(imageLabeledLine({ source: 'http', image: name, boxes: frame.labels.length, provenance: frame.provenance }));
      return ok(frame);
    } catch (error) {
      if (deadline.aborted) {
        return serviceUnavailable('labeling-timeout', `labeling took longer than ${LABELING_DEADLINE_MS / 1000} s; retry later`);
      }
      return labelingFailure(error, context);
    }
  });
}

app.http('postLabels', { methods: ['POST'], route: 'labels', authLevel: 'function', handler: withRedaction(postLabels) });
