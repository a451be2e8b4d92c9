/** A report goes to the `reports` container as JSON and HTML, indexed by a document in Cosmos DB. */
import type { AppRuntime } from '../runtime';
import { DOCUMENT_SCHEMA_VERSION, type ReportDocument } from '../store/documents';
import { BLOB_CONTAINERS } from '../store/names';

export async function storeReport(
  app: AppRuntime,
  report: {
    id: string;
    kind: ReportDocument['kind'];
    batchId?: string;
    createdAt: string;
    content: unknown;
    html: string;
    summary: ReportDocument['summary'];
  },
): Promise<void> {
  const json = `${report.id}.json`;
  const html = `${report.id}.html`;
  await app.blobs.write(BLOB_CONTAINERS.reports, json, JSON.stringify(report.content, null, 1), 'application/json');
  await app.blobs.write(BLOB_CONTAINERS.reports, html, report.html, 'text/html; charset=utf-8');
  await app.reports.upsert({
    id: report.id,
    kind: report.kind,
    schemaVersion: DOCUMENT_SCHEMA_VERSION,
    ...(report.batchId ? { batchId: report.batchId } : {}),
    createdAt: report.createdAt,
    json,
    html,
    summary: report.summary,
  });
}
