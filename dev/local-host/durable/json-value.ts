/**
 * Durable passes every input, output and custom status through JSON (history rows, queue messages). Doing the same
 * round trip locally makes the runner show the same surprises as Azure: Dates arrive as strings, undefined object
 * fields and class prototypes disappear, Maps become {}.
 */
export function throughJson<T = unknown>(value: unknown): T {
  if (value === undefined) return undefined as T;
  const text = JSON.stringify(value);
  // JSON.stringify gives undefined for functions and symbols: Durable would store nothing.
  return (text === undefined ? undefined : JSON.parse(text)) as T;
}
