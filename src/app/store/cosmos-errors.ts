import type { Container } from '@azure/cosmos';
import type { z } from 'zod';

/** Cosmos DB status codes the stores react to. */
export const statusOf = (error: unknown): number | undefined =>
  (error as { code?: number; statusCode?: number }).code ?? (error as { statusCode?: number }).statusCode;
export const isNotFound = (error: unknown) => statusOf(error) === 404;
export const isConflict = (error: unknown) => statusOf(error) === 409;
export const isPreconditionFailed = (error: unknown) => statusOf(error) === 412;

/** A point read parsed by `schema`: undefined when there is no such document. */
export async function readItem<S extends z.ZodType>(
  container: Container,
  id: string,
  partitionKey: string,
  schema: S,
): Promise<z.output<S> | undefined> {
  try {
    const { resource } = await container.item(id, partitionKey).read();
    return resource ? schema.parse(resource) : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
