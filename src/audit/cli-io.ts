/**
 * What every CLI command shares: where it writes, how bad usage fails (exit 2), how a value the user
 * typed is repeated without leaking a connection string, the files it reads, and its tables.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuditFinding } from './types.js';
import { redactText } from './redact.js';

/** Where the CLI writes; the process's streams in production, buffers in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** Bad usage: exit 2 with this message and a pointer to --help. */
export class UsageError extends Error {}

/**
 * A value the user typed, fit to repeat in a message. It may be a misplaced connection string: one
 * that looks like a URL or holds a `password=` is not shown at all.
 */
export function shown(value: string): string {
  if (/:\/\/|@|password|passwd|pwd/i.test(value)) return '(a value that looks like a connection string, not shown)';
  return JSON.stringify(redactText(value));
}

/** A file name as typed, unless it looks like a misplaced connection string. */
export function shownPath(file: string): string {
  return shown(file) === JSON.stringify(file) ? file : '(a path that looks like a connection string, not shown)';
}

/** Reads a JSON or JavaScript file given as `--<flagName>`; its errors name that flag, with the command's prefix. */
export async function loadConfig(file: string, io: CliIo, command: string, flagName: string): Promise<Record<string, unknown>> {
  const path = resolve(io.cwd, file);
  const secretLooking = shownPath(file) !== file;
  const prefix = `poolguard ${command}: --${flagName} ${shownPath(file)}`;
  let value: unknown;
  try {
    if (extname(path) === '.json') value = JSON.parse(await readFile(path, 'utf8'));
    else {
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      value = mod.default ?? mod;
    }
  } catch (err) {
    throw new UsageError(`${prefix}: could not load it (${secretLooking ? String((err as { code?: unknown })?.code ?? 'error') : redactText(String((err as Error)?.message ?? err))}).`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = flagName === 'snapshot' ? 'the JSON of pool.guard.snapshot()' : "the pool's options (what you pass to new Pool())";
    throw new UsageError(`${prefix}: expected ${what} as an object, got ${Array.isArray(value) ? 'an array' : typeof value}.`);
  }
  return { ...(value as Record<string, unknown>) };
}

/** The connection ids (pg's pid, MySQL's thread id) a `--snapshot` file of `pool.guard.snapshot()` counts. */
export async function loadSnapshotIds(file: string, io: CliIo): Promise<Set<number>> {
  const conns = (await loadConfig(file, io, 'status', 'snapshot')).connections;
  if (!Array.isArray(conns)) throw new UsageError(`poolguard status: --snapshot ${shownPath(file)}: expected the JSON of pool.guard.snapshot() (with a connections array).`);
  return new Set(conns.map((c: { pid?: unknown }) => Number(c.pid)).filter((p) => Number.isInteger(p)));
}

/** Columns padded to their widest cell, the last one left ragged. */
export function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [header, ...body].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** The exit code of an audit: 1 when a finding of a failing severity was found. */
export function auditExitCode(counts: { error: number; warning: number }, failOn: string): number {
  return (failOn === 'warning' ? counts.error + counts.warning : counts.error) > 0 ? 1 : 0;
}

/** The findings of an audit (PostgreSQL's or MySQL's) as the CLI prints them, with the counts and the exit code. */
export function findingsText(findings: readonly AuditFinding[], counts: { error: number; warning: number; info: number }, failOn: string): string {
  const ruleWidth = Math.max(4, ...findings.map((f) => f.rule.length));
  const indent = ' '.repeat(9 + ruleWidth + 2);
  let text = `${'SEVERITY'.padEnd(9)}${'RULE'.padEnd(ruleWidth + 2)}FINDING\n`;
  for (const f of findings) text += `${f.severity.padEnd(9)}${f.rule.padEnd(ruleWidth + 2)}${f.message}\n${indent}why: ${f.why}\n${indent}fix: ${f.fix}\n`;
  const failing = auditExitCode(counts, failOn) === 1;
  return (
    text +
    `\n${counts.error} error${counts.error === 1 ? '' : 's'}, ${counts.warning} warning${counts.warning === 1 ? '' : 's'}, ${counts.info} info: ` +
    (failing ? `exit 1 (fails on ${failOn === 'warning' ? 'errors and warnings' : 'errors'})\n` : 'exit 0\n')
  );
}
