/**
 * Interchange with labeling tools (Label Studio, CVAT, YOLO, COCO), both directions, pure. The writers work one
 * frame at a time (StreamedDocument, yoloLabelText) so a batch of any size can be streamed; XML parsing and file
 * I/O live in src/adapters/interchange.
 */
export { imageBaseName, imageStem } from './names';
export {
  framesWithoutSize,
  imageSizeOf,
  MissingImageSizeError,
  provenanceImageSize,
  requireImageSize,
  type ImageSize,
  type ImageSizeOf,
} from './image-size';
export { describeExportSummary, emptyExportSummary, exportAttributes, exportBoxes, type ExportSummary } from './export-items';
export { documentPieces, documentText, type StreamedDocument } from './stream';
export { scalabelListDocument } from './scalabel';
export { InterchangeDocumentError, type ImportResult, type SkippedImage } from './import-result';
export { labelStudioConfigXml, LS_BOX_CONTROL, LS_IMAGE_NAME } from './labelstudio-config';
export {
  labelStudioDocument,
  labelStudioImageUrl,
  labelStudioTask,
  modelVersionOf,
  type LabelStudioExportOptions,
  type LabelStudioExportTask,
} from './labelstudio-export';
export { labelStudioImageName, labelStudioTasksToFrames, type LabelStudioImportOptions } from './labelstudio-import';
export { CVAT_SCORE_ATTRIBUTE, CVAT_VERSION, type CvatDocument, type CvatImage } from './cvat-model';
export { cvatDocument, cvatFooterXml, cvatHeaderXml, cvatImage, cvatImageXml, cvatLabelSpecs, type CvatExportOptions } from './cvat-export';
export { cvatDocumentToFrames, readCvatXmlObject } from './cvat-import';
export {
  YOLO_CLASSES_FILE,
  YOLO_DATA_FILE,
  YOLO_LABELS_DIR,
  yoloClassesText,
  yoloDataYaml,
  yoloFiles,
  yoloLabelFileName,
  yoloLabelText,
  yoloTextToLabels,
  type YoloFile,
} from './yolo';
export { framesToCocoInterchange, type CocoInterchange } from './coco';
