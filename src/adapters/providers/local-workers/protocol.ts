/**
 * What the main thread and a local-model worker say to each other, and how typed LabelingErrors cross the thread
 * boundary (structured cloning keeps an Error's message but not its class or fields).
 */
import {
  BadResponseError,
  InvalidImageError,
  LabelingError,
  ProviderError,
  ProviderTimeoutError,
  ThrottledError,
  type LabelingErrorKind,
} from '../../../core/pipeline/errors';
import type { OnnxDetectorConfigInput, OnnxDetectorOptions } from '../detector/onnx/onnx-detector';
import type { ModelRunTime } from '../models/run-clock';
import type { LocalSceneOptions } from '../scene/local/local-scene';

/** Options that survive structured cloning (an injected fetch does not: workers use the global one). */
export type WorkerDetectorOptions = Omit<OnnxDetectorOptions, 'fetch'>;
export type WorkerSceneOptions = Omit<LocalSceneOptions, 'fetch'>;

/** What every worker builds once: the in-process providers, each with its own ONNX session, created on first use. */
export interface WorkerSetup {
  detector?: { config: OnnxDetectorConfigInput; options: WorkerDetectorOptions };
  scene?: { options: WorkerSceneOptions };
  /** Benchmarks: time every session.run (models/run-clock.ts) and report it with each job. */
  meterModelRuns?: boolean;
}

export type JobKind = 'detect' | 'classify';

/** The part of an ImageInput local models read. `rgb` should live in a SharedArrayBuffer (then it is not copied). */
export interface JobImage {
  name: string;
  width: number;
  height: number;
  rgb: Uint8Array;
}

export type ToWorker =
  | { type: 'job'; id: number; kind: JobKind; image: JobImage }
  | { type: 'abort'; id: number }
  /** Load the models now (each provider's session), not on the first job. */
  | { type: 'warm' }
  /** Tests of crash recovery: exit with `code` on receiving the next job, before starting it. */
  | { type: 'crash-on-next-job'; code: number };

export type FromWorker =
  | { type: 'ready' }
  /** The answer to 'warm' (a failure is not reported here: the first job that needs the model reports it). */
  | { type: 'warmed' }
  | { type: 'done'; id: number; ok: true; value: unknown; ms: number; model?: ModelRunTime }
  | { type: 'done'; id: number; ok: false; error: SerializedError; ms: number; model?: ModelRunTime };

export interface SerializedError {
  name: string;
  message: string;
  labeling?: {
    kind: LabelingErrorKind;
    retryable: boolean;
    provider?: string;
    status?: number;
    requestId?: string;
    retryAfterMs?: number;
  };
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof LabelingError) {
    return {
      name: error.name,
      message: error.message,
      labeling: {
        kind: error.kind,
        retryable: error.retryable,
        ...(error.provider !== undefined ? { provider: error.provider } : {}),
        ...(error.status !== undefined ? { status: error.status } : {}),
        ...(error.requestId !== undefined ? { requestId: error.requestId } : {}),
        ...(error instanceof ThrottledError && error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      },
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  if (error instanceof Error) return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { name: 'Error', message: String(error) };
}

/**
 * The same class, kind, retryability and fields as the error thrown in the worker (its stack is the worker's).
 * Errors that were not LabelingErrors come back as plain Errors with their name and message.
 */
export function deserializeError(error: SerializedError, fallbackProvider: string): Error {
  const l = error.labeling;
  let result: Error;
  if (!l) {
    result = new Error(error.message);
    result.name = error.name;
  } else {
    const provider = l.provider ?? fallbackProvider;
    const fields = { ...(l.requestId !== undefined ? { requestId: l.requestId } : {}) };
    switch (l.kind) {
      case 'invalid-image':
        result = new InvalidImageError(error.message, {
          ...(l.provider !== undefined ? { provider: l.provider } : {}),
          ...(l.status !== undefined ? { status: l.status } : {}),
        });
        break;
      case 'throttled':
        result = new ThrottledError(error.message, {
          provider,
          ...fields,
          ...(l.retryAfterMs !== undefined ? { retryAfterMs: l.retryAfterMs } : {}),
        });
        break;
      case 'timeout':
        result = new ProviderTimeoutError(error.message, { provider });
        break;
      case 'bad-response':
        result = new BadResponseError(error.message, { provider, ...fields });
        break;
      case 'provider':
        result = new ProviderError(error.message, {
          provider,
          retryable: l.retryable,
          ...fields,
          ...(l.status !== undefined ? { status: l.status } : {}),
        });
        break;
      default:
        result = new LabelingError(l.kind, error.message, {
          retryable: l.retryable,
          ...(l.provider !== undefined ? { provider: l.provider } : {}),
          ...(l.status !== undefined ? { status: l.status } : {}),
          ...fields,
        });
    }
  }
  if (error.stack) result.stack = error.stack;
  return result;
}
