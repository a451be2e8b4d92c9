/**
 * What a batch is compared with. By default the first batches after a deployment: the earliest batches labeled
 * with the same labeling setup (config hash) as the batch, until they hold `minImages` images; those batches are the
 * reference and are not compared themselves. A user can pin the reference instead (DRIFT_REFERENCE): named batches,
 * or the batches completed in a period.
 */
import { z } from 'zod';
import { mergeProfiles, type DriftProfile } from './profile';

export type DriftReferenceSetting =
  { kind: 'first'; minImages: number } | { kind: 'batches'; batchIds: string[] } | { kind: 'period'; from: string; to: string };

const isoDate = z.string().datetime({ offset: true });

/**
 * DRIFT_REFERENCE as written: empty for the first batches after a deployment, `<from>/<to>` (ISO 8601 instants) for
 * a period, else batch ids separated by commas.
 */
export function parseDriftReference(text: string | undefined, minImages: number): DriftReferenceSetting {
  const value = text?.trim() ?? '';
  if (!value) return { kind: 'first', minImages };
  const period = value.split('/');
  if (period.length === 2 && isoDate.safeParse(period[0]).success && isoDate.safeParse(period[1]).success) {
    const [from, to] = period.map((d) => new Date(d!).toISOString()) as [string, string];
    if (to <= from) throw new RangeError(`the period ${value} ends before it starts`);
    return { kind: 'period', from, to };
  }
  const batchIds = value
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  return { kind: 'batches', batchIds };
}

export function describeReference(setting: DriftReferenceSetting): string {
  switch (setting.kind) {
    case 'first':
      return `the first ${setting.minImages} images labeled after each deployment (same config hash)`;
    case 'batches':
      return `pinned batches: ${setting.batchIds.join(', ')}`;
    case 'period':
      return `batches completed from ${setting.from} to ${setting.to}`;
  }
}

export interface ProfiledBatch {
  batchId: string;
  /** When the batch finished labeling. */
  completedAt: string;
  profile: DriftProfile;
}

export type ReferenceFor =
  { status: 'compared'; batchIds: string[]; profile: DriftProfile } | { status: 'reference' | 'no-reference'; batchIds: string[] };

const byCompletion = (a: ProfiledBatch, b: ProfiledBatch) =>
  a.completedAt < b.completedAt ? -1 : a.completedAt > b.completedAt ? 1 : a.batchId < b.batchId ? -1 : 1;

/** The reference of `batch` among `all` (every batch with a profile, in any order). */
export function referenceFor(batch: ProfiledBatch, all: readonly ProfiledBatch[], setting: DriftReferenceSetting): ReferenceFor {
  let members: ProfiledBatch[];
  if (setting.kind === 'batches') members = all.filter((b) => setting.batchIds.includes(b.batchId));
  else if (setting.kind === 'period') members = all.filter((b) => b.completedAt >= setting.from && b.completedAt < setting.to);
  else {
    const deployment = batch.profile.configHashes[0];
    members = [];
    let images = 0;
    for (const b of [...all].sort(byCompletion)) {
      if (images >= setting.minImages) break;
      if (deployment === undefined || !b.profile.configHashes.includes(deployment)) continue;
      members.push(b);
      images += b.profile.images;
    }
    if (members.some((b) => b.batchId === batch.batchId) || (members.length > 0 && images < setting.minImages))
      return { status: 'reference', batchIds: members.map((b) => b.batchId) };
  }
  const batchIds = members.map((b) => b.batchId);
  if (batchIds.includes(batch.batchId)) return { status: 'reference', batchIds };
  if (members.length === 0) return { status: 'no-reference', batchIds };
  return { status: 'compared', batchIds, profile: mergeProfiles(members.map((b) => b.profile)) };
}
