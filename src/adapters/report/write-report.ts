import path from 'node:path';
import type { EvaluationReport } from '../../core/evaluation/report-schema';
import { writeFileAtomic } from '../files/write-labels';
import { renderReportHtml } from './html';

/** `<dir>/report.json` and `<dir>/report.html`, written atomically; returns both paths. */
export async function writeEvaluationReport(dir: string, report: EvaluationReport): Promise<{ json: string; html: string }> {
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  await writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(html, renderReportHtml(report));
  return { json, html };
}
