'use strict';
// Preloaded with `node -r` into the dev host by bench/batch-scale: its peak resident set and CPU time when it exits.
process.on('exit', () => {
  const usage = process.resourceUsage();
  const line = { maxRssKb: usage.maxRSS, userMs: Math.round(usage.userCPUTime / 1000), systemMs: Math.round(usage.systemCPUTime / 1000) };
  process.stderr.write(`host-usage ${JSON.stringify(line)}\n`);
});
