#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the `prepare` script) or `npm run build`.
const path = require('node:path');
const fs = require('node:fs');
const nodeModule = require('node:module');

// Node 22.1+ keeps the code it compiles on disk (the OS temp folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so
// each run does not compile again the ~1.6 MB of JavaScript a command loads (zod alone is 1 MB). Older Node: no-op.
if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();

const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  console.error('autolabel: the CLI is not built yet; run `npm run build` (or `npm ci`) in the project first.');
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
