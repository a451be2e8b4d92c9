/**
 * Secrets never leave: every error text that is logged, stored, returned or written passes through `redact`.
 * Services and proxies echo credentials back in their error bodies ("Incorrect API key provided: Bearer sk-..."),
 * SDKs put request URLs with SAS signatures into their messages, and connection strings end up in stack traces.
 * Two nets catch them: the values themselves (every key the process reads for a provider or a store registers
 * itself with `registerSecret` when it is read), and the shapes credentials take whatever their value.
 */

/** What a credential is replaced with. */
export const REDACTED = '[redacted]';

/** Shorter values are not registered: replacing every "none" or "1234" would garble messages and hide nothing. */
const MIN_SECRET_LENGTH = 8;

const secrets = new Set<string>();

/** Remember a credential value read from the environment, so that no text carries it out. */
export function registerSecret(value: string | undefined): void {
  const trimmed = value?.trim();
  if (trimmed && trimmed.length >= MIN_SECRET_LENGTH) secrets.add(trimmed);
}

/** Credential shapes, each with the part that is kept (the name, so a reader still sees what was there). */
const PATTERNS: Array<[RegExp, string]> = [
  // Authorization: Bearer <token> / Basic <token>, in headers, messages and JSON alike.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  // Header or field names that carry a key: api-key: x, "Ocp-Apim-Subscription-Key":"x", x-api-key=x, apiKey: 'x'.
  [
    /\b(api[-_]?key|ocp-apim-subscription-key|x-api-key|x-functions-key|subscription[-_]?key|client[-_]?secret|password)("?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
    `$1$2${REDACTED}`,
  ],
  // OpenAI-style keys: sk-..., sk-proj-...
  [/\bsk-[A-Za-z0-9_-]{8,}/g, `sk-${REDACTED}`],
  // Storage and Service Bus connection strings.
  [/\b(AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s"']+/gi, `$1=${REDACTED}`],
  // SAS query parameters: the signature is the secret part; `code=` is a function key.
  [/([?&](?:sig|code)=)[^&\s"']+/gi, `$1${REDACTED}`],
];

/** The text with every registered secret and every credential shape replaced by REDACTED. */
export function redact(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * An error as one redacted text for a log: its message (with the stack when asked) and the messages of its causes,
 * since SDK errors keep the raw answer in `cause` and a logger would print it.
 */
export function describeError(error: unknown, options: { stack?: boolean } = {}): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const e = current as { message?: unknown; stack?: unknown; name?: unknown; cause?: unknown };
    const message = typeof e.message === 'string' ? e.message : String(current);
    const text = options.stack && depth === 0 && typeof e.stack === 'string' ? e.stack : message;
    parts.push(depth === 0 ? text : `caused by: ${message}`);
    current = e.cause;
  }
  return redact(parts.join('\n'));
}
