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

/**
 * The document `read` finds, else the one `create` makes; of two creators racing, the second gets 409 and reads the
 * first one's.
 */
export async function readOrCreate<T>(read: () => Promise<T | undefined>, create: () => Promise<T>): Promise<T> {
  const existing = await read();
  if (existing !== undefined) return existing;
  try {
    return await create();
  } catch (error) {
    if (!isConflict(error)) throw error;
    return (await read())!;
  }
}
