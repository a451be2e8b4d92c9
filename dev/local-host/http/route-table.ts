/**
 * The host's routing table, for what the app uses: templates of literal segments and plain `{param}` segments
 * (`batches/{batchId}/labels/{name}`). Functions live under the route prefix (`api`), extra routes (the Durable
 * API) at the root. Literal segments match case-insensitively and win over parameters, as ASP.NET routing ranks
 * them; a path that matches routes of other methods only answers 405 with their methods.
 */
export interface RouteEntry<H> {
  name: string;
  /** Upper-case methods. */
  methods: string[];
  handler: H;
  /** The template as registered, for the start-up listing. */
  template: string;
  underPrefix: boolean;
  segments: Array<{ literal: string } | { param: string }>;
}

export type RouteLookup<H> =
  | { kind: 'found'; entry: RouteEntry<H>; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

export interface RouteTable<H> {
  entries: ReadonlyArray<RouteEntry<H>>;
  /** `path` is the raw (still percent-encoded) URL path, with its leading slash. */
  lookup(method: string, path: string): RouteLookup<H>;
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

function compile(template: string): RouteEntry<never>['segments'] {
  return template
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const param = PARAM.exec(segment)?.[1];
      if (param) return { param };
      if (/[{}]/.test(segment)) throw new Error(`route "${template}": only plain {name} parameters are supported, not "${segment}"`);
      return { literal: segment.toLowerCase() };
    });
}

/** Literal segments first, position by position (more specific routes are tried first). */
const rank = (entry: RouteEntry<unknown>) => entry.segments.map((s) => ('literal' in s ? '0' : '1')).join('');

export function buildRouteTable<H>(
  routes: Array<{ name: string; methods: string[]; route: string; handler: H; underPrefix: boolean }>,
  routePrefix: string,
): RouteTable<H> {
  const prefix = compile(routePrefix);
  const entries = routes.map((r) => ({
    name: r.name,
    methods: r.methods.map((m) => m.toUpperCase()),
    handler: r.handler,
    template: r.route,
    underPrefix: r.underPrefix,
    segments: [...(r.underPrefix ? prefix : []), ...compile(r.route)],
  }));
  const shapes = new Map<string, RouteEntry<H>>();
  for (const entry of entries) {
    const shape = entry.segments.map((s) => ('literal' in s ? s.literal : '{}')).join('/');
    const other = shapes.get(shape);
    const shared = other?.methods.filter((m) => entry.methods.includes(m)) ?? [];
    if (other && shared.length)
      throw new Error(`"${other.name}" and "${entry.name}" both serve ${shared.join(',')} on "${entry.template}"`);
    if (!other) shapes.set(shape, entry);
  }
  const ordered = [...entries].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));

  const match = (entry: RouteEntry<H>, parts: string[]): Record<string, string> | null => {
    if (parts.length !== entry.segments.length) return null;
    const params: Record<string, string> = {};
    for (const [i, segment] of entry.segments.entries()) {
      const part = parts[i]!;
      if ('literal' in segment) {
        if (part.toLowerCase() !== segment.literal) return null;
      } else {
        params[segment.param] = part;
      }
    }
    return params;
  };

  return {
    entries: ordered,
    lookup(method, path) {
      let parts: string[];
      try {
        parts = path.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        return { kind: 'not-found' };
      }
      const allow = new Set<string>();
      for (const entry of ordered) {
        const params = match(entry, parts);
        if (!params) continue;
        if (entry.methods.includes(method.toUpperCase())) return { kind: 'found', entry, params };
        entry.methods.forEach((m) => allow.add(m));
      }
      return allow.size ? { kind: 'method-not-allowed', allow: [...allow] } : { kind: 'not-found' };
    },
  };
}
