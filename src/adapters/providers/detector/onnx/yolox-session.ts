import * as ort from 'onnxruntime-node';
import { meteredRun } from '../../models/run-clock';
import { yoloxRowCount } from './decode';

export const YOLOX_INPUT_NAME = 'images';
export const YOLOX_OUTPUT_NAME = 'output';

export interface YoloxSessionOptions {
  /** Threads one session.run uses. */
  intraOpThreads: number;
}

/**
 * One onnxruntime session of YOLOX-Nano, checked against the README's I/O contract when it is created. onnxruntime-node
 * runs `session.run` on the JS thread (a setImmediate around a synchronous native call), so runs never overlap:
 * intra-op threads are the only parallelism inside the model.
 */
export class YoloxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputSize: number,
    readonly numClasses: number,
  ) {}

  static async create(modelPath: string, options: YoloxSessionOptions): Promise<YoloxSession> {
    const session = await ort.InferenceSession.create(modelPath, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      executionProviders: ['cpu'],
    });
    const input = session.inputMetadata.find((m) => m.name === YOLOX_INPUT_NAME);
    const output = session.outputMetadata.find((m) => m.name === YOLOX_OUTPUT_NAME);
    const inShape = input?.isTensor ? input.shape : [];
    const outShape = output?.isTensor ? output.shape : [];
    const size = inShape[2];
    const problem =
      !input || !output
        ? `inputs ${session.inputNames.join(', ')} / outputs ${session.outputNames.join(', ')}, expected ${YOLOX_INPUT_NAME} / ${YOLOX_OUTPUT_NAME}`
        : typeof size !== 'number' || inShape.length !== 4 || inShape[1] !== 3 || inShape[3] !== size
          ? `input shape [${inShape.join(',')}], expected [1,3,S,S]`
          : outShape.length !== 3 || outShape[1] !== yoloxRowCount(size) || typeof outShape[2] !== 'number' || outShape[2] <= 5
            ? `output shape [${outShape.join(',')}], expected [1,${yoloxRowCount(size)},5+classes]`
            : undefined;
    if (problem !== undefined) {
      await session.release();
      throw new Error(`${modelPath} is not a YOLOX model as expected: ${problem}`);
    }
    return new YoloxSession(session, size as number, (outShape[2] as number) - 5);
  }

  /** One forward pass on a [1,3,S,S] BGR float input; `ms` is the time of session.run alone. */
  async run(input: Float32Array): Promise<{ output: Float32Array; ms: number }> {
    const tensor = new ort.Tensor('float32', input, [1, 3, this.inputSize, this.inputSize]);
    const start = performance.now();
    const result = await meteredRun(() => this.session.run({ [YOLOX_INPUT_NAME]: tensor }));
    const ms = performance.now() - start;
    const out = result[YOLOX_OUTPUT_NAME];
    if (!out || !(out.data instanceof Float32Array)) throw new Error('YOLOX run returned no float32 output');
    return { output: out.data, ms };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
