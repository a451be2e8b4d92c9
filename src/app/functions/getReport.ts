/**
 * GET /api/reports/{reportId}: the evaluation report as JSON, or its HTML page when the Accept header prefers
 * text/html (a browser); `?format=json|html` overrides the header. The page goes out with its own
 * Content-Security-Policy (the one its <meta> declares, inline script hash included) as a header too.
 *   200 application/json | text/html | 400 invalid id or format | 404 unknown report
 *   406 Accept allows neither | 500 the index names a blob that is missing
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { negotiate } from '../http/accept';
import { queryParams, respond, routeParams, type HandlerResult } from '../http/handle';
import { ReportParams } from '../http/params';
import { bytes, errorResponse, notAcceptable, notFound } from '../http/responses';
import { appRuntime } from '../runtime';
import { withRedaction } from '../redacted-context';
import { BLOB_CONTAINERS } from '../store/names';
import { pagePolicy } from '../../adapters/report/page';

/** Server preference first: JSON is the API's answer; HTML only when the client prefers it. */
const OFFERS = ['application/json', 'text/html'] as const;
const FORMATS = { json: 'application/json', html: 'text/html' } as const;

const Query = z.object({ format: z.enum(['json', 'html']).optional() });

export async function getReport(request: HttpRequest, context: InvocationContext): Promise<HandlerResult> {
  return respond(context, async () => {
    const app = appRuntime();
    const { reportId } = routeParams(request, ReportParams);
    const { format } = queryParams(request, Query);
    const mediaType = format ? FORMATS[format] : negotiate(request.headers.get('accept'), OFFERS);
    if (!mediaType) return notAcceptable(`this report is available as ${OFFERS.join(' or ')}`, { available: OFFERS });

    const report = await app.reports.get(reportId);
    if (!report) return notFound('report-not-found', `no report ${reportId}`);
    const blobName = mediaType === 'text/html' ? report.html : report.json;
    const blob = await app.blobs.read(BLOB_CONTAINERS.reports, blobName);
    if (!blob) {
      context.error(JSON.stringify({ event: 'report-blob-missing', reportId, blob: `${BLOB_CONTAINERS.reports}/${blobName}` }));
      return errorResponse(
        500,
        'report-content-missing',
        `report ${reportId} is indexed but its ${BLOB_CONTAINERS.reports}/${blobName} is missing`,
      );
    }
    const headers = {
      vary: 'Accept',
      ...(blob.etag ? { etag: blob.etag } : {}),
      ...(mediaType === 'text/html' ? htmlHeaders(blob.data) : {}),
    };
    return bytes(blob.data, `${mediaType}; charset=utf-8`, headers);
  });
}

/** The stored page's own policy as the header, so that header and <meta> agree and its script still runs. */
function htmlHeaders(page: Uint8Array): Record<string, string> {
  // The <meta> is in the head's first lines: a page of megabytes need not be decoded for it.
  const head = Buffer.from(page.buffer, page.byteOffset, Math.min(page.byteLength, 16_384)).toString('utf8');
  return { 'content-security-policy': pagePolicy(head) };
}

app.http('getReport', { methods: ['GET'], route: 'reports/{reportId}', authLevel: 'function', handler: withRedaction(getReport) });
