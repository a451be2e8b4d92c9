import { promises as fs } from 'node:fs';
import path from 'node:path';
import { imageKey } from '../../core/evaluation/dataset';
import type { EvaluationReport } from '../../core/evaluation/report-schema';
import { writeFileAtomic } from '../files/write-labels';
import { stemOf } from '../files/list-images';
import { renderReportHtml, WORST_IMAGES_SHOWN, type WorstImageThumbnail } from './html';

export interface ReportExtras {
  /** Pictures of the worst images (thumbnails.ts), shown with their boxes. */
  thumbnails?: readonly WorstImageThumbnail[];
  /**
   * The overlays' folder, relative to the report's (`overlays`, as `autolabel label` writes them): each worst
   * image whose `<stem>.jpg` is there gets a link to it.
   */
  overlaysDir?: string;
}

/** `<dir>/report.json` and `<dir>/report.html`, written atomically; returns both paths. */
export async function writeEvaluationReport(
  dir: string,
  report: EvaluationReport,
  extras: ReportExtras = {},
): Promise<{ json: string; html: string }> {
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  const overlayHref = extras.overlaysDir === undefined ? undefined : await existingOverlays(dir, extras.overlaysDir, report);
  await writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(
    html,
    renderReportHtml(report, {
      ...(extras.thumbnails ? { thumbnails: extras.thumbnails } : {}),
      ...(overlayHref ? { overlayHref } : {}),
    }),
  );
  return { json, html };
}

/** Relative links (URL-encoded) to the overlays of the shown worst images, for those whose file exists. */
async function existingOverlays(dir: string, overlaysDir: string, report: EvaluationReport): Promise<(name: string) => string | undefined> {
  const links = new Map<string, string>();
  for (const { name } of report.diagnostics.worstImages.slice(0, WORST_IMAGES_SHOWN)) {
    const file = `${stemOf(imageKey(name))}.jpg`;
    const exists = await fs.stat(path.join(dir, overlaysDir, file)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (exists) links.set(name, [...overlaysDir.split(/[\\/]+/).filter(Boolean), file].map(encodeURIComponent).join('/'));
  }
  return (name) => links.get(name);
}
