/**
 * Loads every function file (each registers one function). The Functions host finds them through package.json
 * `main` (dist/src/app/functions/*.js); the local host and tests import this module instead.
 */
import './appTerminate';
import './labelImageBlob';
import './blobPoisonQueue';
import './labelImageQueue';
import './postLabels';
import './listBatches';
import './getBatch';
import './getBatchLabel';
import './getBatchOverlay';
import './getBatchReview';
import './getBatchExport';
import './putBatchLabelReview';
import './evaluateBatchHttp';
import './getReport';
import './health';
import './evaluateBatch';
import './evaluationPlan';
import './evaluationMatchChunk';
import './evaluationReport';
import './evaluationFailed';
import './nightlyReportTimer';
import './batchSweepTimer';
