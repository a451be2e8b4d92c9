/**
 * The `image-labeled` log line, one per labeled image, from the blob trigger and from POST /api/labels alike, so the
 * monitoring queries (infra/monitoring/queries.kql) see one shape: which providers and models answered, how long
 * each took (scene and detector run concurrently, so the total is not their sum), how many requests each needed
 * (more than one: the provider retried, e.g. after a 429), and the tokens it cost.
 */
import type { LabelProvenance } from '../../core/pipeline/provenance';

export interface LabeledImageLog {
  source: 'blob' | 'http';
  image: string;
  boxes: number;
  provenance: LabelProvenance;
  /** Blob trigger only: the batch and which delivery this was. */
  batchId?: string;
  attempts?: number;
}

export function imageLabeledLine({ source, image, boxes, provenance, batchId, attempts }: LabeledImageLog): string {
  const { scene, detector } = provenance;
  return JSON.stringify({
    event: 'image-labeled',
    source,
    batchId,
    image,
    boxes,
    latencyMs: provenance.latencyMs,
    scene: scene?.provider,
    sceneModel: scene?.model,
    sceneLatencyMs: scene?.latencyMs,
    sceneRequests: scene?.attempts,
    detector: detector?.provider,
    detectorModel: detector?.model,
    detectorLatencyMs: detector?.latencyMs,
    detectorRequests: detector?.attempts,
    tokens: scene?.usage,
    attempts,
  });
}
