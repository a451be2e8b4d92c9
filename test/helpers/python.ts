/**
 * The Python with pycocotools that parity tests run: AUTOLABEL_PYTHON, else <repo>/.venv/bin/python. Tests that need
 * it fail (they do not skip) when it is missing, so a machine without it cannot pass them silently.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export const VENV_HINT =
  'run `.ci/run`, or create the venv in the repository root: ' +
  '`python3 -m venv .venv && .venv/bin/pip install --index-url file:///opt/pypi/simple pycocotools` ' +
  '(or set AUTOLABEL_PYTHON to a Python that has pycocotools)';

/** Path of the Python to use; throws with the way to get one when there is none. */
export function pythonPath(): string {
  const fromEnv = process.env.AUTOLABEL_PYTHON;
  const candidate = fromEnv && fromEnv.length > 0 ? fromEnv : path.join(repoRoot, '.venv', 'bin', 'python');
  if (!existsSync(candidate))
    throw new Error(`no Python with pycocotools at ${candidate}${fromEnv ? ' (AUTOLABEL_PYTHON)' : ''}: ${VENV_HINT}`);
  return candidate;
}

export interface PythonRun {
  stdout: string;
  stderr: string;
}

/** Run a Python script to completion; rejects with its stderr (and the venv hint if pycocotools is missing). */
export function runPython(script: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<PythonRun> {
  const python = pythonPath();
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => reject(new Error(`cannot start ${python}: ${error.message}; ${VENV_HINT}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ stdout, stderr });
      const hint = /No module named '?(pycocotools|numpy)/.test(stderr) ? `\n${VENV_HINT}` : '';
      reject(new Error(`${python} ${path.basename(script)} exited with ${code ?? signal}:\n${stderr.slice(-4000)}${hint}`));
    });
  });
}
