import { closest } from '../core/closest.js';
import { runAudit } from './cli-audit.js';
import { UsageError, type CliIo } from './cli-io.js';
import { runStatus } from './cli-status.js';
import { redactText } from './redact.js';

export type { CliIo } from './cli-io.js';

function mainHelp(): string {
  return `Usage: poolguard <command> [options]

Commands:
  audit    check a pool's configuration, and against the live server (exit 0 clean, 1 errors, 2 bad usage)
  status   who holds connections on the server now, and whether the pool agrees

Run poolguard <command> --help for a command's options. The server comes from --url, the config
(--config), or $DATABASE_URL: PostgreSQL, or MySQL/MariaDB with a mysql:// URL.
`;
}

/** Runs the CLI; resolves with the exit code. Never throws: bad usage is exit 2 with a message. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.err : io.out)(mainHelp());
      return command === undefined ? 2 : 0;
    }
    if (command === 'audit') return await runAudit(rest, io);
    if (command === 'status') return await runStatus(rest, io);
    const hint = closest(command, ['audit', 'status']);
    throw new UsageError(`poolguard: unknown command ${JSON.stringify(command)}.${hint ? ` Did you mean ${hint}?` : ''} Commands: audit, status.`);
  } catch (err) {
    if (err instanceof UsageError) {
      const cmd = command === 'audit' || command === 'status' ? ` ${command}` : '';
      // Usage messages repeat what was typed only through shown(), which hides connection strings.
      io.err(`${err.message}\nRun poolguard${cmd} --help for usage.\n`);
      return 2;
    }
    io.err(`poolguard: unexpected failure: ${redactText(String((err as Error)?.stack ?? err))}\nThis is a bug in poolguard; please report it.\n`);
    return 1;
  }
}
