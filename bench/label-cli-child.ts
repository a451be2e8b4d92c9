/**
 * Child process of bench/label-cli.ts: `autolabel <args>` through the CLI's own entry (src/cli/main.ts, what
 * bin/autolabel.js calls once built), then this process's CPU time written as JSON to the file named by
 * BENCH_CLI_REPORT.
 */
import { writeFileSync } from 'node:fs';
import { main } from '../src/cli/main';

const report = process.env.BENCH_CLI_REPORT;
if (!report) throw new Error('BENCH_CLI_REPORT names the file for the CPU time');

void main(process.argv.slice(2)).then((code) => {
  const cpu = process.cpuUsage();
  writeFileSync(report, JSON.stringify({ exitCode: code, cpuMs: (cpu.user + cpu.system) / 1000 }));
  process.exitCode = code;
});
