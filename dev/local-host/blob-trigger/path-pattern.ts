/**
 * Blob trigger paths (`container/{batchId}/{name}`, `images/{name}.jpg`) parsed the way the WebJobs SDK does it
 * (BindingTemplateSource.BuildCapturePattern): the container is the part before the first `/` and must be a literal
 * here (the host lists one fixed container per trigger); in the blob-name part every `{param}` becomes a greedy `.*`
 * capture, everything else is literal, `{{` and `}}` are escaped braces, and the whole name must match (anchored,
 * case-sensitive). Greedy captures give the host's answers, e.g. `{name}.csv` on `a.b.csv` binds name = `a.b`, and
 * `{batchId}/{name}` on `b1/sub/x.jpg` binds batchId = `b1/sub`, name = `x.jpg`.
 */

export interface BlobPathPattern {
  /** The trigger's `path`, as given. */
  source: string;
  container: string;
  /** Literal start of the blob-name pattern: the listing prefix (Azure filters server-side). */
  prefix: string;
  /** Names of the `{params}`, in order. */
  params: string[];
  /** The bound values when the blob name matches, otherwise null. */
  match(blobName: string): Record<string, string> | null;
}

type Token = { literal: string } | { param: string };

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tokenize(template: string, source: string): Token[] {
  const tokens: Token[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i] as string;
    const next = template[i + 1];
    if ((ch === '{' && next === '{') || (ch === '}' && next === '}')) {
      literal += ch;
      i++;
    } else if (ch === '{') {
      const end = template.indexOf('}', i + 1);
      if (end < 0) throw new Error(`blob trigger path '${source}': '{' without '}'`);
      const name = template.slice(i + 1, end);
      if (!PARAM_NAME.test(name)) {
        throw new Error(`blob trigger path '${source}': '{${name}}' is not a plain parameter name`);
      }
      if (literal) tokens.push({ literal });
      literal = '';
      tokens.push({ param: name });
      i = end;
    } else if (ch === '}') {
      throw new Error(`blob trigger path '${source}': '}' without '{'`);
    } else {
      literal += ch;
    }
  }
  if (literal) tokens.push({ literal });
  return tokens;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export function parseBlobPathPattern(path: string): BlobPathPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const namePattern = slash < 0 ? '' : path.slice(slash + 1);
  if (!container || container.includes('{') || container.includes('}')) {
    throw new Error(`blob trigger path '${path}': the container must be a literal name (got '${container}')`);
  }
  // A bare container ("images") triggers on every blob in it, like the host's implicit `{name}`-less path.
  const tokens = namePattern ? tokenize(namePattern, path) : [{ param: '' } as Token];
  const params: string[] = [];
  let regex = '^';
  for (const token of tokens) {
    if ('literal' in token) {
      regex += escapeRegExp(token.literal);
    } else if (token.param === '') {
      regex += '.*';
    } else {
      if (params.includes(token.param)) {
        throw new Error(`blob trigger path '${path}': parameter '{${token.param}}' appears twice`);
      }
      params.push(token.param);
      regex += `(?<${token.param}>.*)`;
    }
  }
  regex += '$';
  const compiled = new RegExp(regex, 's');
  const first = tokens[0];
  const prefix = first && 'literal' in first ? first.literal : '';
  return {
    source: path,
    container,
    prefix,
    params,
    match(blobName) {
      const m = compiled.exec(blobName);
      if (!m) return null;
      const values: Record<string, string> = {};
      for (const name of params) values[name] = m.groups?.[name] ?? '';
      return values;
    },
  };
}
