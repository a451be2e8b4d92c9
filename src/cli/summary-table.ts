import type { EvaluationReport } from '../core/evaluation/report-schema';

const pct = (v: number) => (v < 0 ? 'n/a' : (v * 100).toFixed(1));

function table(rows: string[][], alignLeft: ReadonlySet<number> = new Set([0])): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => (alignLeft.has(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The compact text summary `autolabel evaluate` prints: COCO stats, per-class table, attribute accuracy. */
export function formatSummary(report: EvaluationReport): string {
  const { detection, attributes, images, options } = report;
  const s = detection.stats;
  const header =
    `Evaluated ${images.evaluated} images (${images.withPredictions} with predictions), ` +
    `box mode ${options.mode}, operating point IoU ${options.iouThreshold} / score >= ${options.scoreThreshold}`;
  const stats = table([
    ['', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'],
    ['COCO', ...[s.AP, s.AP50, s.AP75, s.APs, s.APm, s.APl, s.AR1, s.AR10, s.AR100, s.ARs, s.ARm, s.ARl].map(pct)],
  ]);
  const classRows = detection.classes.map((name) => {
    const c = detection.perClass[name as keyof typeof detection.perClass]!;
    return [
      name,
      String(c.gt),
      String(c.predictions),
      pct(c.AP),
      pct(c.AP50),
      pct(c.AP75),
      pct(c.AR100),
      pct(c.precision),
      pct(c.recall),
      pct(c.f1),
      String(c.tp),
      String(c.fp),
      String(c.fn),
    ];
  });
  const o = detection.overall;
  const classes = table([
    ['class', 'GT', 'pred', 'AP', 'AP50', 'AP75', 'AR100', 'P', 'R', 'F1', 'TP', 'FP', 'FN'],
    ...classRows,
    [
      'overall',
      '',
      '',
      pct(s.AP),
      pct(s.AP50),
      pct(s.AP75),
      pct(s.AR100),
      pct(o.precision),
      pct(o.recall),
      pct(o.f1),
      String(o.tp),
      String(o.fp),
      String(o.fn),
    ],
  ]);
  const a = attributes.accuracy;
  const attributeLine =
    `attribute accuracy (%): weather ${pct(a.weather)}, timeofday ${pct(a.timeofday)}, ` +
    `scene ${pct(a.scene)}, overall ${pct(a.overall)}`;
  // With abstentions (`undefined` answers, counted wrong above): the share answered and the accuracy on those.
  const per = attributes.perAttribute as Record<
    string,
    { evaluated: number; answered?: number; coverage?: number; answeredAccuracy?: number }
  >;
  const abstaining = Object.entries(per).filter(([, r]) => r.answered !== undefined && r.answered < r.evaluated);
  const coverageLine = abstaining.length
    ? `\nattribute coverage (% answered) / accuracy on answered (%): ${abstaining
        .map(([name, r]) => `${name} ${pct(r.coverage ?? -1)} / ${pct(r.answeredAccuracy ?? -1)}`)
        .join(', ')}`
    : '';
  const warnings = report.warnings.map((w) => `warning: ${w}`);
  return [header, '', stats, '', classes, '', attributeLine + coverageLine, ...warnings].join('\n') + '\n';
}
