/** What services log through: an InvocationContext in the Functions app, anything with these methods elsewhere. */
export interface Logger {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}
