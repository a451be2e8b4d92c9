/**
 * A fake Foundry (Azure ML) managed online endpoint serving an MMDetection model: `POST /score` with
 * `Authorization: Bearer <key or token>` and `{"input_data": {"columns": ["image"], "index": [0], "data": ["<base64>"]}}`,
 * answering `[{"boxes": [{"box": {"topX", "topY", "bottomX", "bottomY"}, "label", "score"}]}]` (normalised 0..1).
 * Like the service, 404 on other paths, 401 without the expected bearer value; the rest is scripted by the test.
 */
import { startFakeServer, type FakeServer, type RecordedRequest, type Responder, type ScriptedResponse } from './http-server';

export const SCORE_PATH = '/score';

/** [topX, topY, bottomX, bottomY] normalised, a COCO label and a score. */
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
