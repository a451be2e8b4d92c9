import fs from 'node:fs';
import path from 'node:path';

/** The project's package.json, found by walking up from this file (works from src/ under tsx and from dist/). */
function findPackageJson(start: string): { name: string; version: string } {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return JSON.parse(fs.readFileSync(candidate, 'utf8'));
    if (path.dirname(dir) === dir) throw new Error(`package.json not found above ${start}`);
  }
}

export const packageInfo = findPackageJson(__dirname);
