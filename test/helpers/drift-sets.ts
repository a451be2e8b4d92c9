/**
 * Real image sets for the drift tests, chosen by their ground-truth scene attributes (the bdd100k-sample label
 * files and the bdd100k-scenes answers): ordinary daytime (clear, partly cloudy, overcast) split into a reference
 * and a current set of 30 each, the night images, and the daytime rain and snow images.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { sampleImagesDir, sampleLabelsDir, scenesDir } from './shared';

export interface DriftSets {
  /** Image file -> its path, per set. */
  reference: string[];
  day: string[];
  night: string[];
  weather: string[];
}

interface SceneTruth {
  file: string;
  timeofday?: string;
  weather?: string;
}

const ORDINARY_WEATHER = new Set(['clear', 'partly cloudy', 'overcast']);

async function truths(): Promise<SceneTruth[]> {
  const found: SceneTruth[] = [];
  for (const name of (await fs.readdir(sampleLabelsDir)).sort()) {
    const label = JSON.parse(await fs.readFile(path.join(sampleLabelsDir, name), 'utf8')) as {
      image_filename: string;
      metadata?: { timeofday?: string; weather?: string };
    };
    found.push({ file: path.join(sampleImagesDir, label.image_filename), ...label.metadata });
  }
  const lines = (await fs.readFile(path.join(scenesDir, 'scenes.jsonl'), 'utf8')).split('\n').filter(Boolean);
  for (const line of lines) {
    const messages = (JSON.parse(line) as { messages: Array<{ role: string; content: unknown }> }).messages;
    const image = messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).find((c) => c?.type === 'image_url');
    const answer = messages.find((m) => m.role === 'assistant')?.content;
    const name = String(image.image_url.url).split('/').pop()!;
    found.push({ file: path.join(scenesDir, 'images', name), ...(JSON.parse(String(answer)) as object) });
  }
  return found.sort((a, b) => (path.basename(a.file) < path.basename(b.file) ? -1 : 1));
}

/** The four sets (image paths), deterministic: ordinary daytime images alternate between reference and day. */
export async function driftSets(size = 30): Promise<DriftSets> {
  const all = await truths();
  const ordinary = all.filter((t) => t.timeofday === 'daytime' && ORDINARY_WEATHER.has(t.weather ?? ''));
  return {
    reference: ordinary
      .filter((_, i) => i % 2 === 0)
      .slice(0, size)
      .map((t) => t.file),
    day: ordinary
      .filter((_, i) => i % 2 === 1)
      .slice(0, size)
      .map((t) => t.file),
    night: all.filter((t) => t.timeofday === 'night').map((t) => t.file),
    weather: all.filter((t) => t.timeofday === 'daytime' && (t.weather === 'rainy' || t.weather === 'snowy')).map((t) => t.file),
  };
}
