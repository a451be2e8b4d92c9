'use strict';
// Preloaded with `node -r` by the benchmark: reports the process's peak resident set size and CPU time when it exits.
process.on('exit', () => {
  const usage = process.resourceUsage();
  process.stderr.write(`peak-rss-kb ${usage.maxRSS} cpu-us ${usage.userCPUTime + usage.systemCPUTime}\n`);
});
