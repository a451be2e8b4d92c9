import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { argumentProblems, UsageError } from './usage-error';

/** A numeric option as typed: `--name` must be a number (zod pipes the range on top). */
export const numberArg = (name: string) =>
  z
    .string()
    .trim()
    .refine((v) => v !== '' && Number.isFinite(Number(v)), { message: `--${name} must be a number` })
    .transform(Number);

/**
 * A command line parsed by node:util parseArgs, then validated by `schema` (with `positionals: true`, the
 * positional arguments as `positionals`; without, any is refused): every problem becomes one UsageError (exit 2)
 * followed by the command's usage.
 */
export function parseCommandLine<T extends z.ZodType>(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
  schema: T,
  usage: string,
  { positionals = false } = {},
): z.output<T> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: positionals }) as typeof parsed;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
  const result = schema.safeParse(positionals ? { ...parsed.values, positionals: parsed.positionals } : parsed.values);
  if (!result.success) throw new UsageError(`${argumentProblems(result.error)}\n\n${usage}`);
  return result.data;
}
