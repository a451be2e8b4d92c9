/**
 * A fake Foundry (Azure ML) managed online endpoint serving an MMDetection model: `POST /score` with
 * `Authorization: Bearer <key or token>` and `{"input_data": {"columns": ["image"], "index": [0], "data": ["<base64>"]}}`,
 * answering `[{"boxes": [{"box": {"topX", "topY", "bottomX", "bottomY"}, "label", "score"}]}]` (normalised 0..1;
 * earlier versions of the catalog's wrapper answered the same in the sent image's pixels).
 * Like the service, 404 on other paths, 401 without the expected bearer value; the rest is scripted by the test
 * (`modelError` is how AzureML answers when the scoring container did not answer 200).
 */
import { startFakeServer, type FakeServer, type RecordedRequest, type Responder, type ScriptedResponse } from './http-server';

export const SCORE_PATH = '/score';

/** [topX, topY, bottomX, bottomY] normalised (or, as older wrappers answered, in pixels), a COCO label and a score. */
export interface FoundryBox {
  box: [number, number, number, number];
  label: string;
  score: number;
}

export function foundryAnswer(boxes: FoundryBox[]): unknown {
  return [
    {
      boxes: boxes.map(({ box: [topX, topY, bottomX, bottomY], label, score }) => ({
        box: { topX, topY, bottomX, bottomY },
        label,
        score,
      })),
    },
  ];
}

/**
 * AzureML's answer when the scoring container did not answer 200: 424, with the container's status and reason in
 * `ms-azureml-model-error-statuscode` / `ms-azureml-model-error-reason` and the container's body.
 */
export function modelError(containerStatus: number | undefined, reason: string | undefined, body: unknown): ScriptedResponse {
  const headers: Record<string, string> = { 'x-request-id': 'req-424' };
  if (containerStatus !== undefined) headers['ms-azureml-model-error-statuscode'] = String(containerStatus);
  if (reason !== undefined) headers['ms-azureml-model-error-reason'] = reason;
  return { status: 424, headers, body };
}

/** The images a request carries, decoded from `input_data.data` (undefined when the body is not that shape). */
export function requestImages(request: RecordedRequest): Buffer[] | undefined {
  const input = (request.json as { input_data?: { columns?: unknown; data?: unknown } } | undefined)?.input_data;
  if (!input || !Array.isArray(input.data) || !input.data.every((d) => typeof d === 'string')) return undefined;
  return (input.data as string[]).map((d) => Buffer.from(d, 'base64'));
}

export function startFoundryEndpointServer(respond: Responder, options: { bearer: string }): Promise<FakeServer> {
  return startFakeServer((request: RecordedRequest, index: number): ScriptedResponse | Promise<ScriptedResponse> => {
    if (request.method !== 'POST' || new URL(request.url, 'http://fake').pathname !== SCORE_PATH) {
      return { status: 404, body: 'Not Found', headers: { 'content-type': 'text/plain' } };
    }
    if (request.headers.authorization !== `Bearer ${options.bearer}`) {
      return { status: 401, body: { message: 'Unauthorized: invalid key or token' } };
    }
    return respond(request, index);
  });
}
