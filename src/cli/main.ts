import { packageInfo } from '../util/package-info';
import { runEvaluate, EVALUATE_USAGE } from './evaluate-command';
import { runLabel, LABEL_USAGE } from './label-command';
import { runUpload, UPLOAD_USAGE } from './upload-command';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './usage-error';

const VERSION = packageInfo.version;

const USAGE = `autolabel ${VERSION}: BDD100K/Scalabel auto-labeling and COCO-exact evaluation

Commands:
${LABEL_USAGE}

${EVALUATE_USAGE}

${UPLOAD_USAGE}

  autolabel --version | --help
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs one CLI command and returns the exit code (never calls process.exit, so it is testable in-process). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'label':
        return await runLabel(rest, io);
      case 'evaluate':
        return await runEvaluate(rest, io);
      case 'upload':
        return await runUpload(rest, io);
      case '--version':
      case '-v':
        io.stdout(`${VERSION}\n`);
        return EXIT_OK;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(`unknown command '${command}'\n\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`autolabel: ${error.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr(`autolabel: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILURE;
  }
}
