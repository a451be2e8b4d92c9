/**
 * The `cascade` scene provider: the local model answers first; the remote (vision-language) model is called only for
 * an image where some attribute's local confidence is below its minimum, and its answer replaces only those
 * attributes. The prompt still asks for all three (one request either way: the image, not the question, is most of
 * its tokens). Provenance says who answered each attribute.
 */
import type { MinConfidence } from '../../../core/pipeline/abstention';
import type { CallOptions, ImageInput, SceneClassifier, SceneResult } from '../../../core/pipeline/types';
import { ATTRIBUTE_NAMES, type AttributeName } from '../../../core/taxonomy/attributes';

export const CASCADE_SCENE_PROVIDER = 'cascade';

export interface CascadeOptions {
  first: SceneClassifier;
  then: SceneClassifier;
  /** Per attribute, a local confidence below this sends the image to `then`. */
  minConfidence: MinConfidence;
}

export interface CascadeRaw {
  first: unknown;
  /** Absent when the local model was sure of every attribute (no remote call). */
  then?: unknown;
}

export function createCascadeSceneClassifier({ first, then, minConfidence }: CascadeOptions): SceneClassifier {
  const model = {
    provider: CASCADE_SCENE_PROVIDER,
    model: `${first.model.provider}:${first.model.model}>${then.model.provider}:${then.model.model}`,
    ...(then.model.endpoint ? { endpoint: then.model.endpoint } : {}),
    ...(then.model.apiVersion ? { apiVersion: then.model.apiVersion } : {}),
    ...(first.model.file ? { file: first.model.file } : {}),
  };
  return {
    model,
    ...(then.probe ? { probe: (signal?: AbortSignal) => then.probe!(signal) } : {}),
    async close() {
      await Promise.allSettled([first.close?.(), then.close?.()]);
    },
    async classify(image: ImageInput, options?: CallOptions): Promise<SceneResult> {
      const local = await first.classify(image, options);
      const unsure = ATTRIBUTE_NAMES.filter((a) => local.confidence[a] < (minConfidence[a] ?? 0));
      const answeredBy = Object.fromEntries(ATTRIBUTE_NAMES.map((a) => [a, first.model.provider])) as Record<AttributeName, string>;
      if (unsure.length === 0) return { ...local, raw: { first: local.raw } satisfies CascadeRaw, answeredBy };
      const remote = await then.classify(image, options);
      const attributes = { ...local.attributes } as Record<AttributeName, string>;
      const confidence = { ...local.confidence };
      for (const a of unsure) {
        attributes[a] = remote.attributes[a];
        confidence[a] = remote.confidence[a];
        answeredBy[a] = then.model.provider;
      }
      return {
        attributes: attributes as SceneResult['attributes'],
        confidence,
        raw: { first: local.raw, then: remote.raw } satisfies CascadeRaw,
        answeredBy,
        ...(remote.usage ? { usage: remote.usage } : {}),
        ...(remote.prompt ? { prompt: remote.prompt } : {}),
        ...(remote.attempts !== undefined ? { attempts: remote.attempts } : {}),
      };
    },
  };
}
