import { describeError, redact } from '../core/redaction';
import { packageInfo } from '../adapters/files/package-info';
import { processIo, type CliIo } from './io';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './usage-error';

const VERSION = packageInfo.version;

interface Command {
  run: (argv: readonly string[], io: CliIo) => Promise<number>;
  usage: string;
}

/**
 * Each command, loaded only when it runs (or its usage is asked for): `autolabel evaluate` does not pay for the
 * model runtime, the Azure SDKs or the XML parser that other commands need.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  label: async () => {
    const m = await import('./label-command');
    return { run: m.runLabel, usage: m.LABEL_USAGE };
  },
  evaluate: async () => {
    const m = await import('./evaluate-command');
    return { run: m.runEvaluate, usage: m.EVALUATE_USAGE };
  },
  review: async () => {
    const m = await import('./review-command');
    return { run: m.runReview, usage: m.REVIEW_USAGE };
  },
  calibrate: async () => {
    const m = await import('./calibrate-command');
    return { run: m.runCalibrate, usage: m.CALIBRATE_USAGE };
  },
  export: async () => {
    const m = await import('./export-command');
    return { run: m.runExport, usage: m.EXPORT_USAGE };
  },
  import: async () => {
    const m = await import('./import-command');
    return { run: m.runImport, usage: m.IMPORT_USAGE };
  },
  'train-scene': async () => {
    const m = await import('./train-scene-command');
    return { run: m.runTrainScene, usage: m.TRAIN_SCENE_USAGE };
  },
  upload: async () => {
    const m = await import('./upload-command');
    return { run: m.runUpload, usage: m.UPLOAD_USAGE };
  },
  drift: async () => {
    const m = await import('./drift-command');
    return { run: m.runDrift, usage: m.DRIFT_USAGE };
  },
};

/** The whole help text: every command's usage (loads them all; only help needs that). */
async function usage(): Promise<string> {
  const usages = await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).usage));
  return `autolabel ${VERSION}: BDD100K/Scalabel auto-labeling and COCO-exact evaluation

Commands:
${usages.join('\n\n')}

  autolabel --version | --help | help <command> | <command> --help
`;
}

const commandOf = (name: string) => (Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined);

/** `--help` or `-h` anywhere before `--` asks for help, whatever else is on the line (it may be the wrong part). */
function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

async function printCommandUsage(name: string | undefined, io: CliIo): Promise<number> {
  const load = name === undefined ? undefined : commandOf(name);
  if (!load) throw new UsageError(`no command '${name}'; the commands are ${Object.keys(COMMANDS).join(', ')}\n\n${await usage()}`);
  io.stdout(`Usage:\n${(await load()).usage}\n`);
  return EXIT_OK;
}

/** Runs one CLI command and returns the exit code (never calls process.exit, so it is testable in-process). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const load = command === undefined ? undefined : commandOf(command);
    if (load) return asksForHelp(rest) ? await printCommandUsage(command, io) : await (await load()).run(rest, io);
    switch (command) {
      case '--version':
      case '-v':
        io.stdout(`${VERSION}\n`);
        return EXIT_OK;
      case 'help':
        if (rest.length) return await printCommandUsage(rest[0], io);
        io.stdout(await usage());
        return EXIT_OK;
      case undefined:
      case '--help':
      case '-h':
        io.stdout(await usage());
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(`unknown command '${command}'\n\n${await usage()}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`autolabel: ${redact(error.message)}\n`);
      return EXIT_USAGE;
    }
    const refused = fileSystemRefusal(error);
    io.stderr(refused ? `autolabel: ${redact(refused)}\n` : `autolabel: unexpected error: ${describeError(error, { stack: true })}\n`);
    return EXIT_FAILURE;
  }
}

/** What the file system refuses (an output path that is a file, no permission, a full disk) is not a bug: no stack. */
const FILE_SYSTEM_CODES: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file is in the way',
  EISDIR: 'it is a folder',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
};

function fileSystemRefusal(error: unknown): string | undefined {
  const { code, path, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  const why = code ? FILE_SYSTEM_CODES[code] : undefined;
  if (!why || !path) return undefined;
  return `cannot ${syscall ?? 'use'} '${path}': ${why} (${code})`;
}
