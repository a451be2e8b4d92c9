import { describeError, redact } from '../core/redaction';
import { packageInfo } from '../adapters/files/package-info';
import { processIo, type CliIo } from './io';
import { runEvaluate, EVALUATE_USAGE } from './evaluate-command';
import { runLabel, LABEL_USAGE } from './label-command';
import { runCalibrate, CALIBRATE_USAGE } from './calibrate-command';
import { runExport, EXPORT_USAGE } from './export-command';
import { runImport, IMPORT_USAGE } from './import-command';
import { runReview, REVIEW_USAGE } from './review-command';
import { runUpload, UPLOAD_USAGE } from './upload-command';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './usage-error';

const VERSION = packageInfo.version;

const USAGE = `autolabel ${VERSION}: BDD100K/Scalabel auto-labeling and COCO-exact evaluation

Commands:
${LABEL_USAGE}

${EVALUATE_USAGE}

${REVIEW_USAGE}

${CALIBRATE_USAGE}

${EXPORT_USAGE}

${IMPORT_USAGE}

${UPLOAD_USAGE}

  autolabel --version | --help | help <command> | <command> --help
`;

/** Each command with the function that runs it and its usage, for dispatch and for `<command> --help`. */
const COMMANDS: Record<string, { run: (argv: readonly string[], io: CliIo) => Promise<number>; usage: string }> = {
  label: { run: runLabel, usage: LABEL_USAGE },
  evaluate: { run: runEvaluate, usage: EVALUATE_USAGE },
  review: { run: runReview, usage: REVIEW_USAGE },
  calibrate: { run: runCalibrate, usage: CALIBRATE_USAGE },
  export: { run: runExport, usage: EXPORT_USAGE },
  import: { run: runImport, usage: IMPORT_USAGE },
  upload: { run: runUpload, usage: UPLOAD_USAGE },
};

const commandOf = (name: string) => (Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined);

/** `--help` or `-h` anywhere before `--` asks for help, whatever else is on the line (it may be the wrong part). */
function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

function printCommandUsage(name: string | undefined, io: CliIo): number {
  const command = name === undefined ? undefined : commandOf(name);
  if (!command) throw new UsageError(`no command '${name}'; the commands are ${Object.keys(COMMANDS).join(', ')}\n\n${USAGE}`);
  io.stdout(`Usage:\n${command.usage}\n`);
  return EXIT_OK;
}

/** Runs one CLI command and returns the exit code (never calls process.exit, so it is testable in-process). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const known = command === undefined ? undefined : commandOf(command);
    if (known) return asksForHelp(rest) ? printCommandUsage(command, io) : await known.run(rest, io);
    switch (command) {
      case '--version':
      case '-v':
        io.stdout(`${VERSION}\n`);
        return EXIT_OK;
      case 'help':
        if (rest.length) return printCommandUsage(rest[0], io);
        io.stdout(USAGE);
        return EXIT_OK;
      case undefined:
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(`unknown command '${command}'\n\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`autolabel: ${redact(error.message)}\n`);
      return EXIT_USAGE;
    }
    io.stderr(`autolabel: unexpected error: ${describeError(error, { stack: true })}\n`);
    return EXIT_FAILURE;
  }
}
