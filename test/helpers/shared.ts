/**
 * Where the shared real data lives (never copied into the project): AUTOLABEL_SHARED_DIR, else ../shared beside
 * the repository.
 */
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');

export const sharedDir = path.resolve(process.env.AUTOLABEL_SHARED_DIR ?? path.join(repoRoot, '..', 'shared'));
/** 60 BDD100K images with labels in the published variant ({image_filename, metadata, labels}). */
export const sampleLabelsDir = path.join(sharedDir, 'bdd100k-sample', 'labels');
export const sampleImagesDir = path.join(sharedDir, 'bdd100k-sample', 'images');
/** 100 BDD100K images: labels/ (Scalabel frames, 2018 names, no attributes), images/, scenes.jsonl. */
export const scenesDir = path.join(sharedDir, 'bdd100k-scenes');
/** The ONNX models (YOLOX-Nano, MobileNetV2-int8) with their I/O facts. */
export const modelsDir = path.join(sharedDir, 'models');
