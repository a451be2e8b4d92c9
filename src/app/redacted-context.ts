/**
 * The one place the Functions app makes sure nothing it logs or throws carries a secret: every registered handler
 * runs with an InvocationContext whose log methods redact their text, and an error that escapes a handler (which the
 * host logs, message and stack, to Application Insights) is redacted before it leaves. Stored and returned texts are
 * redacted where they are made (LabelingError, describeLabelingFailure, the HTTP helpers).
 */
import { format } from 'node:util';
import type { InvocationContext } from '@azure/functions';
import { describeError, redact } from '../core/redaction';

const LOG_METHODS = ['log', 'trace', 'debug', 'info', 'warn', 'error'] as const;

/** Replaces the context's log methods with ones that write the same line, redacted. Idempotent. */
export function redactLogs<C extends InvocationContext>(context: C): C {
  const marked = context as C & { __redacted?: boolean };
  if (marked.__redacted) return context;
  for (const method of LOG_METHODS) {
    const original = context[method].bind(context);
    context[method] = (...args: unknown[]) => original(redactedLine(args));
  }
  marked.__redacted = true;
  return context;
}

/** The log call's arguments as one redacted line (errors with their stack and causes). */
function redactedLine(args: unknown[]): string {
  return redact(format(...args.map((arg) => (arg instanceof Error ? describeError(arg, { stack: true }) : arg))));
}

/** The error, redacted in place (message, stack and causes), so that it can be rethrown as itself. */
export function redactThrown(error: unknown): unknown {
  if (!(error instanceof Error)) return new Error(redact(String(error)));
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    try {
      current.message = redact(current.message);
      if (current.stack) current.stack = redact(current.stack);
    } catch {
      // A read-only message: the host still gets the (redacted) stack of the outer error.
    }
    current = current.cause;
  }
  return error;
}

/** `handler`, run with redacting logs and with whatever it throws redacted. */
export function withRedaction<I, R>(
  handler: (input: I, context: InvocationContext) => R | Promise<R>,
): (input: I, context: InvocationContext) => Promise<R> {
  return async (input, context) => {
    try {
      return await handler(input, redactLogs(context));
    } catch (error) {
      throw redactThrown(error);
    }
  };
}
