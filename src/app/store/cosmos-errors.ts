/** Cosmos DB status codes the stores react to. */
export const statusOf = (error: unknown): number | undefined =>
  (error as { code?: number; statusCode?: number }).code ?? (error as { statusCode?: number }).statusCode;
export const isNotFound = (error: unknown) => statusOf(error) === 404;
export const isConflict = (error: unknown) => statusOf(error) === 409;
export const isPreconditionFailed = (error: unknown) => statusOf(error) === 412;
