/**
 * What every chat-completions scene provider (the openai SDK, @azure-rest/ai-inference) does with an answer before
 * reading it: check it is a chat completion at all, take the first choice, and turn a withheld or refused answer
 * into an InvalidImageError (no retry: the same image would be refused again). Token usage adds up over the
 * requests of one image (retries, the repair request).
 */
import { BadResponseError, InvalidImageError } from '../../../core/pipeline/errors';
import type { TokenUsage } from '../../../core/pipeline/types';
import { truncate } from '../shared/http-errors';

export interface ChatChoice {
  message: { content?: string | null; refusal?: string | null };
  finish_reason?: string | null;
}

export function firstChoice(completion: unknown, provider: string, imageName: string): ChatChoice {
  const choices = (completion as { choices?: unknown } | null)?.choices;
  if (!completion || typeof completion !== 'object' || !Array.isArray(choices)) {
    const text = typeof completion === 'string' ? completion : JSON.stringify(completion);
    throw new BadResponseError(`${provider}: the answer is not a chat completion: ${truncate(text ?? String(completion), 200)}`, {
      provider,
    });
  }
  const choice = choices[0] as ChatChoice | undefined;
  if (!choice?.message) throw new BadResponseError(`${provider}: the chat completion has no choices`, { provider });
  const rejected = (why: string) => new InvalidImageError(`${imageName}: the image was rejected by ${provider} (${why})`, { provider });
  if (choice.finish_reason === 'content_filter') throw rejected('the answer was withheld by the content filter');
  if (choice.message.refusal) throw rejected(`the model refused: ${truncate(choice.message.refusal, 200)}`);
  return choice;
}

/** Sum of token usage over the requests of one call. */
export function addUsage(
  total: TokenUsage | undefined,
  usage: { prompt_tokens?: number; completion_tokens?: number } | undefined | null,
): TokenUsage | undefined {
  if (!usage) return total;
  return {
    promptTokens: (total?.promptTokens ?? 0) + (usage.prompt_tokens ?? 0),
    completionTokens: (total?.completionTokens ?? 0) + (usage.completion_tokens ?? 0),
  };
}
