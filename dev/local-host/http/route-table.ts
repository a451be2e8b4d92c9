/**
 * The host's routing table: every HTTP function (under the route prefix) and every extra route (at the root), tried
 * in ASP.NET route precedence order (literal before constrained parameter before parameter before catch-all), with
 * method filtering over all routes that match the path, as endpoint routing does: a more specific route that lacks
 * the method does not hide a less specific one that has it.
 */
import type { HttpHandler } from '@azure/functions';
import { compileRouteTemplate, type CompiledRoute } from './route-template';

export interface RouteEntry {
  /** Function name, as in the InvocationContext and the logs. */
  name: string;
  /** Upper-case methods. */
  methods: string[];
  handler: HttpHandler;
  route: CompiledRoute;
  /** Whether the route lives under the route prefix (functions) or at the root (extra routes). */
  underPrefix: boolean;
}

export type RouteLookup =
  | { kind: 'found'; entry: RouteEntry; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

function comparePrecedence(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = (a[i] as number) - (b[i] as number);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

export interface RouteTable {
  entries: readonly RouteEntry[];
  /** `path` is the raw (still percent-encoded) URL path, with its leading slash. */
  lookup(method: string, path: string): RouteLookup;
}

export function buildRouteTable(
  routes: Array<{ name: string; methods: string[]; route: string; handler: HttpHandler; underPrefix: boolean }>,
  routePrefix: string,
): RouteTable {
  const prefix = routePrefix.replace(/^\/+|\/+$/g, '');
  const entries: RouteEntry[] = routes.map((r) => {
    let route: CompiledRoute;
    try {
      route = compileRouteTemplate(r.route);
    } catch (error) {
      throw new Error(`function "${r.name}": bad route "${r.route}": ${(error as Error).message}`, { cause: error });
    }
    return { name: r.name, methods: r.methods.map((m) => m.toUpperCase()), handler: r.handler, route, underPrefix: r.underPrefix };
  });

  // Two routes that match the same paths with a shared method would be an ambiguous match on every request:
  // refuse them at start.
  const seen = new Map<string, RouteEntry>();
  const names = new Set<string>();
  for (const entry of entries) {
    const lowerName = entry.name.toLowerCase();
    if (names.has(lowerName)) throw new Error(`two functions are named "${entry.name}"`);
    names.add(lowerName);
    const key = `${entry.underPrefix ? prefix.toLowerCase() : ''}|${entry.route.shapeKey}`;
    const other = seen.get(key);
    const shared = other?.methods.filter((m) => entry.methods.includes(m)) ?? [];
    if (other && shared.length > 0) {
      throw new Error(`functions "${other.name}" and "${entry.name}" both serve ${shared.join(',')} on route "${entry.route.template}"`);
    }
    if (!other) seen.set(key, entry);
  }

  const ordered = entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => comparePrecedence(a.entry.route.precedence, b.entry.route.precedence) || a.index - b.index)
    .map(({ entry }) => entry);

  /** The part of the path the entry's template sees, or null when the path is not under its prefix. */
  const relativePath = (entry: RouteEntry, path: string): string | null => {
    const withoutSlash = path.replace(/^\/+/, '');
    if (!entry.underPrefix || prefix === '') return withoutSlash;
    const head = withoutSlash.slice(0, prefix.length);
    if (head.toLowerCase() !== prefix.toLowerCase()) return null;
    const after = withoutSlash.slice(prefix.length);
    if (after === '') return '';
    return after.startsWith('/') ? after.slice(1) : null;
  };

  return {
    entries: ordered,
    lookup(method, path) {
      const allow = new Set<string>();
      const upper = method.toUpperCase();
      for (const entry of ordered) {
        const relative = relativePath(entry, path);
        if (relative === null) continue;
        const params = entry.route.match(relative);
        if (!params) continue;
        if (entry.methods.includes(upper)) return { kind: 'found', entry, params };
        entry.methods.forEach((m) => allow.add(m));
      }
      return allow.size > 0 ? { kind: 'method-not-allowed', allow: [...allow] } : { kind: 'not-found' };
    },
  };
}
