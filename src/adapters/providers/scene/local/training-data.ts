/**
 * The labeled BDD100K images of the shared data folder (../shared, never committed), as the scene classifier's
 * training script and tests read them: bdd100k-scenes (scenes.jsonl: fine-tuning chat lines whose assistant answer is
 * `{"weather","timeofday","scene"}`, image = the image_url's last path segment) and bdd100k-sample (labels/*.json in
 * the published variant with `metadata`). An image in both sets is kept once (from bdd100k-scenes).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES, type AttributeName } from '../../../../core/taxonomy/attributes';

export type SceneLabels = Record<AttributeName, string>;

export interface LabeledSceneImage {
  name: string;
  /** Absolute path of the JPEG. */
  file: string;
  source: 'bdd100k-scenes' | 'bdd100k-sample';
  /** Closed-vocabulary values; `undefined` where the label says so (excluded from training and scoring). */
  labels: SceneLabels;
}

function toLabels(raw: Record<string, unknown>, where: string): SceneLabels {
  const out = {} as SceneLabels;
  for (const a of ATTRIBUTE_NAMES) {
    const v = typeof raw[a] === 'string' ? (raw[a] as string) : 'undefined';
    if (!(ATTRIBUTE_VOCABULARIES[a] as readonly string[]).includes(v))
      throw new Error(`${where}: ${a} "${v}" is not in the BDD vocabulary`);
    out[a] = v;
  }
  return out;
}

/** Every labeled image, sorted by name. `onConflict` hears of images in both sets whose labels differ. */
export async function loadLabeledScenes(
  sharedDir: string,
  onConflict?: (name: string, attributes: AttributeName[]) => void,
): Promise<LabeledSceneImage[]> {
  const items = new Map<string, LabeledSceneImage>();
  const scenes = path.join(sharedDir, 'bdd100k-scenes');
  const lines = (await fs.readFile(path.join(scenes, 'scenes.jsonl'), 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `scenes.jsonl line ${i + 1}`;
    const messages = (JSON.parse(line) as { messages: { role: string; content: unknown }[] }).messages;
    const parts = messages.flatMap((m) =>
      Array.isArray(m.content) ? (m.content as { type?: string; image_url?: { url?: string } }[]) : [],
    );
    const url = parts.find((p) => p.type === 'image_url')?.image_url?.url;
    const answer = messages.find((m) => m.role === 'assistant')?.content;
    if (!url || typeof answer !== 'string') throw new Error(`${where}: no image_url or no assistant answer`);
    const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    items.set(name, {
      name,
      file: path.join(scenes, 'images', name),
      source: 'bdd100k-scenes',
      labels: toLabels(JSON.parse(answer) as Record<string, unknown>, where),
    });
  });
  const sample = path.join(sharedDir, 'bdd100k-sample');
  for (const f of (await fs.readdir(path.join(sample, 'labels'))).filter((f) => f.endsWith('.json')).sort()) {
    const doc = JSON.parse(await fs.readFile(path.join(sample, 'labels', f), 'utf8')) as {
      image_filename?: string;
      metadata?: Record<string, unknown>;
    };
    if (!doc.image_filename || !doc.metadata) throw new Error(`bdd100k-sample/labels/${f}: no image_filename or metadata`);
    const labels = toLabels(doc.metadata, `bdd100k-sample/labels/${f}`);
    const seen = items.get(doc.image_filename);
    if (seen) {
      const differs = ATTRIBUTE_NAMES.filter((a) => seen.labels[a] !== labels[a]);
      if (differs.length > 0) onConflict?.(doc.image_filename, differs);
      continue;
    }
    items.set(doc.image_filename, {
      name: doc.image_filename,
      file: path.join(sample, 'images', doc.image_filename),
      source: 'bdd100k-sample',
      labels,
    });
  }
  return [...items.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
