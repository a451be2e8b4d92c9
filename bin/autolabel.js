#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the `prepare` script) or `npm run build`.
const path = require('node:path');
const fs = require('node:fs');

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
