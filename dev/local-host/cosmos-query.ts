/**
 * Document queries for the Cosmos DB stand-in, with what an index gives Azure: @vercel/cosmosdb-server evaluates a
 * query on every document of the container (and sorts them all by _rid first), so a lookup of 100 names in a
 * 20,000-image batch (ARRAY_CONTAINS(@names, c.name), the evaluation's per-chunk read) costs 20,000 x 100
 * comparisons, and twenty of them at once outlast the SDK's 60 s timeout. Here the documents are narrowed first by
 * the WHERE clause's top-level equality conditions on a parameter (`c.a.b = @p`, `ARRAY_CONTAINS(@p, c.a.b)` with
 * strings), then the package's own engine runs the whole query on what is left: the same answer (a document the
 * query returns meets every top-level condition), pages and continuation tokens included.
 */
import type Collection from '@vercel/cosmosdb-server/lib/account/collection';

type Parameters = Array<{ name: string; value: unknown }>;

/** A condition a document must meet: the value at `path` is one of `values`. */
interface Narrowing {
  path: string[];
  values: ReadonlySet<string>;
}

const IDENTIFIER_PATH = String.raw`([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)`;
const EQUALS = new RegExp(String.raw`^${IDENTIFIER_PATH}\s*=\s*(@\w+)$`);
const CONTAINS = new RegExp(String.raw`^ARRAY_CONTAINS\(\s*(@\w+)\s*,\s*${IDENTIFIER_PATH}\s*\)$`, 'i');

/** The package's query, on the documents that can match (all of them when the clause says nothing usable). */
export function queryDocuments(
  collection: Collection,
  body: { query: string; parameters?: Parameters },
  page: { maxItemCount: number | null; continuation: { token: string } | null },
): { result: unknown[]; continuation: unknown } | null {
  const items = collection.documents;
  if (!collection.read()) return null;
  const narrowing = narrowingsOf(body.query, body.parameters ?? []);
  const all = [...items._data.values()].map((item) => item.read() as Record<string, unknown>);
  const data = narrowing.length ? all.filter((doc) => narrowing.every((n) => matches(doc, n))) : all;
  const parent = collection.read() as { indexingPolicy?: { compositeIndexes?: unknown } };
  try {
    return items._getQuery(body.query).exec(data, {
      parameters: body.parameters,
      udf: items._userDefinedFunctions(),
      maxItemCount: page.maxItemCount,
      continuation: page.continuation,
      compositeIndexes: parent.indexingPolicy?.compositeIndexes ?? [],
    } as never) as { result: unknown[]; continuation: unknown };
  } catch (error) {
    (error as { badRequest?: boolean }).badRequest = true;
    throw error;
  }
}

/**
 * The WHERE clause's top-level conditions that narrow the documents: only a clause that is a plain conjunction (no
 * OR, no NOT, no subquery) is read; anything else narrows nothing.
 */
export function narrowingsOf(query: string, parameters: Parameters): Narrowing[] {
  const where = /\bWHERE\b([\s\S]*?)(?:\bORDER\s+BY\b|\bOFFSET\b|$)/i.exec(query)?.[1];
  if (!where || /\b(OR|NOT|SELECT|EXISTS|IN)\b/i.test(where) || /\bJOIN\b/i.test(query)) return [];
  const alias = /\bFROM\s+([A-Za-z_]\w*)/i.exec(query)?.[1];
  const values = new Map(parameters.map((p) => [p.name, p.value]));
  const narrowings: Narrowing[] = [];
  for (const part of splitConjuncts(where)) {
    const equals = EQUALS.exec(part);
    const contains = CONTAINS.exec(part);
    const [root, rest, parameter] = equals ? [equals[1], equals[2], equals[3]] : contains ? [contains[2], contains[3], contains[1]] : [];
    if (!root || root !== alias || !parameter) continue;
    const value = values.get(parameter);
    const strings = equals ? [value] : Array.isArray(value) ? value : undefined;
    if (!strings || !strings.every((v) => typeof v === 'string')) continue;
    narrowings.push({ path: rest!.slice(1).split('.'), values: new Set(strings as string[]) });
  }
  return narrowings;
}

/** Splits on AND outside parentheses and quotes; undefined parts (unbalanced) leave the clause whole. */
function splitConjuncts(where: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < where.length; i++) {
    const ch = where[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && /^\sAND\s/i.test(where.slice(i, i + 5))) {
      parts.push(where.slice(start, i).trim());
      start = i + 5;
      i += 3;
    }
  }
  parts.push(where.slice(start).trim());
  return parts.map((p) => p.replace(/^\(\s*([\s\S]*?)\s*\)$/, '$1'));
}

function matches(doc: Record<string, unknown>, { path, values }: Narrowing): boolean {
  let value: unknown = doc;
  for (const key of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && values.has(value);
}
