/** Image-name helpers shared by the formats: tools key images by file name, our frames by (possibly nested) name. */

/** `videos/a.jpg` -> `a.jpg`; both separators, since names may come from Windows tools. */
export function imageBaseName(name: string): string {
  return name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
}

/** `videos/a.jpg` -> `a`: the per-image file name stem (YOLO `<stem>.txt`, Scalabel `<stem>.json`). */
export function imageStem(name: string): string {
  const base = imageBaseName(name);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** `a, b, c (and 7 more)`: enough to find the culprits without flooding a message. */
export function describeNames(names: readonly string[], shown = 10): string {
  const head = names.slice(0, shown).join(', ');
  return names.length > shown ? `${head} (and ${names.length - shown} more)` : head;
}
