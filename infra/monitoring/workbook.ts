/**
 * The operations workbook is generated from queries.kql, so the two cannot drift:
 *   node --import tsx infra/monitoring/workbook.ts        rewrites infra/monitoring/workbook.json
 * test/observability.test.ts checks that workbook.json is what this produces, and that the queries use only events
 * and fields the app logs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const QUERIES_FILE = path.join(__dirname, 'queries.kql');
export const WORKBOOK_FILE = path.join(__dirname, 'workbook.json');

export interface NamedQuery {
  id: string;
  title: string;
  /** Workbook visualization: table, timechart, columnchart, ... */
  visualization: string;
  query: string;
}

const HEADER = /^\/\/ @query ([a-z0-9-]+) \| ([^|]+) \| ([a-z]+)\s*$/;

/** The `// @query id | title | visualization` sections of queries.kql, in order. Text before the first is a preamble. */
export function parseQueries(text: string): NamedQuery[] {
  const queries: NamedQuery[] = [];
  let current: { id: string; title: string; visualization: string; lines: string[] } | undefined;
  const flush = () => {
    if (current)
      queries.push({ id: current.id, title: current.title, visualization: current.visualization, query: current.lines.join('\n').trim() });
  };
  for (const line of text.split(/\r?\n/)) {
    const header = HEADER.exec(line);
    if (header) {
      flush();
      current = { id: header[1]!, title: header[2]!.trim(), visualization: header[3]!, lines: [] };
    } else if (line.startsWith('// @query')) {
      throw new Error(`malformed query header (expected "// @query <id> | <title> | <visualization>"): ${line}`);
    } else if (current) {
      current.lines.push(line);
    }
  }
  flush();
  const ids = queries.map((q) => q.id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate) throw new Error(`query id ${duplicate} appears twice`);
  for (const q of queries) if (!q.query) throw new Error(`query ${q.id} is empty`);
  return queries;
}

const TIME_RANGE_PARAMETER = 'TimeRange';

/** An Azure Monitor workbook (Notebook/1.0): a time range picker, then one Logs query item per query. */
export function buildWorkbook(queries: NamedQuery[]): Record<string, unknown> {
  return {
    version: 'Notebook/1.0',
    items: [
      {
        type: 1,
        content: {
          json: "## Auto-labeling operations\nThroughput, failures, provider latency and throttling, batches and evaluations, from the app's structured logs. Source: infra/monitoring/queries.kql.",
        },
        name: 'title',
      },
      {
        type: 9,
        content: {
          version: 'KqlParameterItem/1.0',
          parameters: [
            {
              id: '5f3c2a52-6a43-4c39-9d0e-7f6f0c1f2b10',
              version: 'KqlParameterItem/1.0',
              name: TIME_RANGE_PARAMETER,
              label: 'Time range',
              type: 4,
              isRequired: true,
              value: { durationMs: 86400000 },
              typeSettings: {
                selectableValues: [
                  { durationMs: 3600000 },
                  { durationMs: 14400000 },
                  { durationMs: 43200000 },
                  { durationMs: 86400000 },
                  { durationMs: 259200000 },
                  { durationMs: 604800000 },
                  { durationMs: 2592000000 },
                ],
              },
            },
          ],
          style: 'pills',
          queryType: 0,
          resourceType: 'microsoft.insights/components',
        },
        name: 'parameters',
      },
      ...queries.map((q) => ({
        type: 3,
        content: {
          version: 'KqlItem/1.0',
          query: q.query,
          size: 0,
          title: q.title,
          timeContextFromParameter: TIME_RANGE_PARAMETER,
          queryType: 0,
          resourceType: 'microsoft.insights/components',
          visualization: q.visualization,
        },
        name: q.id,
      })),
    ],
    // main.bicep's workbook module replaces this with the deployed Application Insights resource id.
    fallbackResourceIds: [],
    $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
  };
}

export function renderWorkbook(queriesText: string): string {
  return `${JSON.stringify(buildWorkbook(parseQueries(queriesText)), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(WORKBOOK_FILE, renderWorkbook(readFileSync(QUERIES_FILE, 'utf8')));
  process.stdout.write(`wrote ${path.relative(process.cwd(), WORKBOOK_FILE)}\n`);
}
