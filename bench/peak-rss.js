'use strict';
// Preloaded with `node -r` by the benchmark: reports the process's peak resident set size when it exits.
process.on('exit', () => {
  process.stderr.write(`peak-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
