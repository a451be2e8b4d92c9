import type { z } from 'zod';

/** Bad arguments or unreadable input: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Every problem of a command line parsed by zod, one per line, each naming its option (`--iou must be ...`). */
export function argumentProblems(error: z.ZodError): string {
  const messages = error.issues.map((i) =>
    i.message.startsWith('--') || i.path.length === 0 ? i.message : `--${i.path.join('.')}: ${i.message}`,
  );
  return [...new Set(messages)].join('\n');
}
