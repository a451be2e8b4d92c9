/**
 * The monitoring queries (infra/monitoring/queries.kql) and the workbook built from them use only events and fields
 * the app actually logs, so a renamed event or field cannot silently empty a dashboard. The app logs
 * `JSON.stringify({ event: '<name>', field, ... })` lines; this test reads those object literals out of src/.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseQueries, QUERIES_FILE, renderWorkbook, WORKBOOK_FILE } from '../infra/monitoring/workbook';

const SRC = path.resolve(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The `{...}` passed to JSON.stringify wherever its first key is `event` (the structured log lines). */
function logLiterals(sources: string[]): string[] {
  const literals: string[] = [];
  for (const text of sources) {
    for (const match of text.matchAll(/JSON\.stringify\(\s*\{/g)) {
      const open = match.index + match[0].length - 1;
      let depth = 0;
      let end = open;
      for (let i = open; i < text.length; i++) {
        if (text[i] === '{') depth++;
        else if (text[i] === '}' && --depth === 0) {
          end = i + 1;
          break;
        }
      }
      const literal = text.slice(open, end);
      if (/^\{\s*event\s*:/.test(literal)) literals.push(literal);
    }
  }
  return literals;
}

interface Logged {
  events: Set<string>;
  fields: Set<string>;
}

/** Event names (every string literal of the `event:` value, e.g. both arms of a ternary) and field names logged. */
function logged(literals: string[]): Logged {
  const events = new Set<string>();
  const fields = new Set<string>();
  for (const literal of literals) {
    const value = /^\{\s*event\s*:\s*([^,}]+)/.exec(literal)![1]!;
    for (const m of value.matchAll(/'([^']+)'/g)) events.add(m[1]!);
    // Keys: `name:` and shorthand `name,` / `name }` right after `{` or `,`.
    for (const m of literal.matchAll(/[{,]\s*([A-Za-z_]\w*)\s*(?=[:,}])/g)) fields.add(m[1]!);
  }
  return { events, fields };
}

interface Used {
  events: Set<string>;
  fields: Set<string>;
}

/** Events a query text selects, and the first-level fields it reads from the parsed message (`e.<field>`). */
function usedBy(queries: string): Used {
  const events = new Set<string>();
  for (const m of queries.matchAll(/"event":"([^"]+)"/g)) events.add(m[1]!);
  for (const m of queries.matchAll(/(?:tostring\(e\.event\)|\bevent)\s*==\s*"([^"]+)"/g)) events.add(m[1]!);
  for (const m of queries.matchAll(/(?:tostring\(e\.event\)|\bevent)\s+in\s*\(([^)]*)\)/g)) {
    for (const name of m[1]!.matchAll(/"([^"]+)"/g)) events.add(name[1]!);
  }
  const fields = new Set([...queries.matchAll(/\be\.([A-Za-z_]\w*)/g)].map((m) => m[1]!));
  return { events, fields };
}

function driftProblems(queries: string, sources: string[]): string[] {
  const have = logged(logLiterals(sources));
  const want = usedBy(queries);
  const problems: string[] = [];
  if (!want.events.size) problems.push('the queries select no event');
  for (const event of want.events)
    if (!have.events.has(event)) problems.push(`the queries use event "${event}", which nothing in src/ logs`);
  for (const field of want.fields)
    if (!have.fields.has(field)) problems.push(`the queries read field e.${field}, which no log line in src/ has`);
  return problems;
}

const queriesText = readFileSync(QUERIES_FILE, 'utf8');
const sources = sourceFiles(SRC).map((file) => readFileSync(file, 'utf8'));

test('the log lines are found: known events and fields of src/', () => {
  const have = logged(logLiterals(sources));
  for (const event of [
    'image-labeled',
    'image-failed',
    'image-retrying',
    'image-poisoned',
    'batch-labeled',
    'evaluation-started',
    'nightly-report',
  ]) {
    assert.ok(have.events.has(event), `${event} not found among ${[...have.events].join(', ')}`);
  }
  for (const field of ['batchId', 'image', 'latencyMs', 'tokens', 'attempts', 'kind', 'scene', 'detector'])
    assert.ok(have.fields.has(field), field);
});

test('every event and field the monitoring queries use is logged by the app', () => {
  const queries = parseQueries(queriesText);
  assert.ok(queries.length >= 8, `${queries.length} queries`);
  assert.deepEqual(driftProblems(queriesText, sources), []);
  const used = usedBy(queriesText);
  for (const event of ['image-labeled', 'image-failed', 'image-retrying', 'batch-labeled', 'evaluation-started', 'evaluationReport'])
    assert.ok(used.events.has(event), event);
});

test('drift is caught: a renamed event in the queries or in the code, a field that is not logged', () => {
  const renamedInQuery = queriesText.replace('"event":"image-labeled"', '"event":"image-labelled"');
  assert.match(driftProblems(renamedInQuery, sources).join('\n'), /event "image-labelled", which nothing in src\/ logs/);
  const renamedInCode = sources.map((text) => text.replace(/event: 'batch-labeled'/g, "event: 'batch-complete'"));
  assert.match(driftProblems(queriesText, renamedInCode).join('\n'), /event "batch-labeled", which nothing in src\/ logs/);
  const ternaryDropped = sources.map((text) => text.replace("'image-failed' : 'image-retrying'", "'image-failed' : 'image-retry'"));
  assert.match(driftProblems(queriesText, ternaryDropped).join('\n'), /event "image-retrying"/);
  const newField = queriesText.replace('todouble(e.latencyMs)', 'todouble(e.scenePeakMs)');
  assert.match(driftProblems(newField, sources).join('\n'), /field e\.scenePeakMs, which no log line/);
  assert.match(driftProblems('traces | take 10', sources).join('\n'), /select no event/);
});

test('workbook.json is generated from queries.kql (node --import tsx infra/monitoring/workbook.ts)', () => {
  const workbook = readFileSync(WORKBOOK_FILE, 'utf8');
  assert.equal(workbook, renderWorkbook(queriesText), 'workbook.json is stale: regenerate it');
  const parsed = JSON.parse(workbook) as { version: string; items: Array<{ type: number; name: string; content: { query?: string } }> };
  assert.equal(parsed.version, 'Notebook/1.0');
  const queryItems = parsed.items.filter((item) => item.type === 3);
  assert.deepEqual(
    queryItems.map((item) => item.name),
    parseQueries(queriesText).map((q) => q.id),
  );
  // A query edited in one file only is caught.
  assert.notEqual(workbook, renderWorkbook(queriesText.replace('bin(timestamp, 1m)', 'bin(timestamp, 5m)')));
  assert.throws(() => parseQueries('// @query broken header\ntraces'), /malformed query header/);
  assert.throws(() => parseQueries('// @query a | A | table\ntraces\n// @query a | B | table\ntraces'), /appears twice/);
});

test('the workbook module deploys workbook.json bound to Application Insights', () => {
  const bicep = readFileSync(path.resolve(__dirname, '..', 'infra/app/workbook.bicep'), 'utf8');
  assert.match(bicep, /loadJsonContent\('\.\.\/monitoring\/workbook\.json'\)/);
  assert.match(bicep, /'Microsoft\.Insights\/workbooks@[\d-]+'/);
  assert.match(bicep, /sourceId: applicationInsightsId/);
});
