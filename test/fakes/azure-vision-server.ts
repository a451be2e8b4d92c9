/**
 * A fake Azure AI Vision resource speaking the documented wire formats of both object-detection APIs:
 * - 4.0: `POST /computervision/imageanalysis:analyze?api-version=...&features=objects`, answer
 *   `{modelVersion, metadata, objectsResult?: {values: [{boundingBox: {x, y, w, h}, tags: [{name, confidence}]}]}}`,
 *   one tag per object as the service sends (`objectsResult` is optional in the spec);
 * - 3.2: `POST /vision/v3.2/detect`, answer `{objects: [{rectangle, object, confidence, parent?}], requestId, metadata, modelVersion}`.
 * Like the service, it answers 404 to other paths and 401 without the expected key or bearer token; everything
 * else is scripted by the test.
 */
import { startFakeServer, type FakeServer, type RecordedRequest, type Responder, type ScriptedResponse } from './http-server';

export const V40_PATH = '/computervision/imageanalysis:analyze';
export const V32_PATH = '/vision/v3.2/detect';

/** [x, y, w, h] and the object's tag as [name, confidence]. */
export interface V40Object {
  box: [number, number, number, number];
  tag: [string, number];
  /** Tags after the first: the service sends one per object; for tests of a client that reads several anyway. */
  moreTags?: [string, number][];
}

export function v40Answer(objects: V40Object[], image = { width: 1280, height: 720 }, modelVersion = '2023-10-01'): unknown {
  return {
    modelVersion,
    metadata: image,
    objectsResult: {
      values: objects.map(({ box: [x, y, w, h], tag, moreTags = [] }) => ({
        boundingBox: { x, y, w, h },
        tags: [tag, ...moreTags].map(([name, confidence]) => ({ name, confidence })),
      })),
    },
  };
}

/** A 4.0 answer without `objectsResult` (optional in the spec), as for an image in which nothing was found. */
export function v40AnswerWithoutObjects(image = { width: 1280, height: 720 }, modelVersion = '2023-10-01'): unknown {
  return { modelVersion, metadata: image };
}

/**
 * [x, y, w, h] and the name chain, leaf first: [['taxi', 0.6], ['car', 0.9], ['Land vehicle', 0.95]]; a parent
 * given as a bare name (['sedan', 0.7], 'car') has no confidence, which the service's schema allows.
 */
export interface V32Object {
  rect: [number, number, number, number];
  chain: ([string, number] | string)[];
}

interface Hierarchy {
  object: string;
  confidence?: number;
  parent?: Hierarchy;
}

export function v32Answer(objects: V32Object[], image = { width: 1280, height: 720 }, modelVersion = '2021-05-01'): unknown {
  return {
    objects: objects.map(({ rect: [x, y, w, h], chain }) => {
      let node: Hierarchy | undefined;
      for (const link of [...chain].reverse()) {
        const [object, confidence] = typeof link === 'string' ? [link, undefined] : link;
        node = { object, ...(confidence === undefined ? {} : { confidence }), ...(node ? { parent: node } : {}) };
      }
      return { rectangle: { x, y, w, h }, ...node };
    }),
    requestId: '7d2f4a1e-0000-4000-8000-000000000032',
    metadata: { ...image, format: 'Jpeg' },
    modelVersion,
  };
}

/** The error body both APIs use: `{error: {code, message, innererror?: {code, message}}}`. */
export function visionError(code: string, message: string, innerCode?: string): unknown {
  return { error: { code, message, ...(innerCode ? { innererror: { code: innerCode, message } } : {}) } };
}

export interface AzureVisionFakeOptions {
  api: '4.0' | '3.2';
  /** Expected Ocp-Apim-Subscription-Key. */
  key?: string;
  /** Expected bearer token (instead of a key). */
  bearer?: string;
}

export function startAzureVisionServer(respond: Responder, options: AzureVisionFakeOptions): Promise<FakeServer> {
  const path = options.api === '4.0' ? V40_PATH : V32_PATH;
  return startFakeServer((request: RecordedRequest, index: number): ScriptedResponse | Promise<ScriptedResponse> => {
    const url = new URL(request.url, 'http://fake');
    if (request.method !== 'POST' || url.pathname !== path) {
      return { status: 404, body: visionError('404', 'Resource not found') };
    }
    const key = request.headers['ocp-apim-subscription-key'];
    const authorization = request.headers.authorization;
    const authorized =
      (options.key !== undefined && key === options.key) || (options.bearer !== undefined && authorization === `Bearer ${options.bearer}`);
    if (!authorized) {
      return {
        status: 401,
        body: visionError(
          '401',
          'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        ),
      };
    }
    return respond(request, index);
  });
}
