import { effectiveOptions, type RuleContext } from './pg-rule-context.js';
import { runRules } from './rule-runner.js';
import { RULES } from './rules.js';
import { auditOptionsOf, inPostgresJsWords, isPostgresJsSql, passwordOf, queryableOf } from './postgres-js.js';
import { passwordsOf, redactText } from './redact.js';
import { adminConsoleConfig, auditClientConfig, configuredPort, loadPgClient, readPgBouncer, readServer, serverEndpoint, withClient, type ClientConstructor } from './server.js';
import type { AuditInput, AuditPoolOptions, AuditPoolSettings, AuditQueryable, AuditResult, AuditServerSummary } from './types.js';

/** A guarded pg pool, structurally: what the audit reads from it. */
interface GuardedPoolLike {
  connect: Function;
  options?: Record<string, unknown>;
  Client?: unknown;
  guard?: { resolvedOptions?: Readonly<Record<string, unknown>> };
}

function isPool(input: unknown): input is GuardedPoolLike {
  return typeof input === 'object' && input !== null && typeof (input as { connect?: unknown }).connect === 'function';
}

function isQueryable(value: unknown): value is AuditQueryable {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}

/**
 * The audit behind the public `audit()` (`on-demand.ts`, which loads this module at its first
 * call): the same two forms.
 */
export function audit(input: AuditInput): Promise<AuditResult>;
export function audit(pool: object, settings?: AuditPoolSettings): Promise<AuditResult>;
export async function audit(input: AuditInput | object, settings: AuditPoolSettings = {}): Promise<AuditResult> {
  let raw: AuditPoolOptions;
  let guard: Readonly<Record<string, unknown>>;
  let instances: unknown;
  let server: string | AuditQueryable | false | undefined;
  let connectionOptions: Record<string, unknown>;
  let PoolClient: ClientConstructor | undefined;
  let password: string | undefined;
  if (isPostgresJsSql(input)) {
    raw = auditOptionsOf(input);
    guard = input.guard?.resolvedOptions ?? {};
    instances = settings.instances;
    server = settings.server ?? queryableOf(input);
    connectionOptions = {};
    password = passwordOf(input);
  } else if (isPool(input)) {
    const options = input.options ?? {};
    // The pool's guard options were validated by its constructor; the resolved ones carry every default.
    const { guard: _ignored, ...pgOptions } = options;
    raw = pgOptions;
    guard = input.guard?.resolvedOptions ?? {};
    instances = settings.instances;
    server = settings.server;
    connectionOptions = options;
    if (server === undefined && typeof input.Client === 'function') PoolClient = input.Client as ClientConstructor;
  } else {
    const given = input as AuditInput;
    if (given === null || typeof given !== 'object' || typeof given.options !== 'object' || given.options === null) {
      throw new TypeError('audit() needs { options } (a pool\'s options, optionally with instances and server) or a guarded pool');
    }
    raw = given.options;
    guard = typeof raw.guard === 'object' && raw.guard !== null ? raw.guard : {};
    instances = given.instances;
    server = given.server;
    connectionOptions = raw;
  }
  if (instances === undefined) instances = 1;
  if (typeof instances !== 'number' || !Number.isInteger(instances) || instances < 1) {
    throw new RangeError(`audit(): instances must be a whole number ≥ 1 (how many processes run this pool), got ${String(instances)}`);
  }
  if (server !== undefined && server !== false && typeof server !== 'string' && !isQueryable(server)) {
    throw new TypeError('audit(): server must be a connection string or a client with query(text)');
  }

  let summary: AuditServerSummary | undefined;
  let serverError: string | undefined;
  // Every password the inputs carry, in every form, scrubbed from what the server or pg said.
  const secrets = [
    ...passwordsOf(typeof server === 'string' ? server : undefined),
    ...passwordsOf(typeof connectionOptions.connectionString === 'string' ? connectionOptions.connectionString : undefined),
    typeof connectionOptions.password === 'string' ? connectionOptions.password : undefined,
    password,
  ];
  if (server !== false && (server !== undefined || PoolClient !== undefined)) {
    try {
      if (isQueryable(server)) summary = await readServer(server);
      else {
        const Client = PoolClient ?? (await loadPgClient());
        const config = auditClientConfig(connectionOptions, server);
        const { read, port } = await withClient(Client, config, async (c) => ({ read: await readServer(c), port: (await serverEndpoint(c)).port }));
        summary = read;
        // The server listening on another port than the one dialled: a pooler or proxy in between.
        // Only then is PgBouncer's admin console tried, so a direct connection costs nothing more.
        if (port !== undefined && port !== configuredPort(config)) {
          let reason = '';
          const pgbouncer = await withClient(Client, adminConsoleConfig(config), (admin) => readPgBouncer(admin, read.database)).catch((err: unknown) => {
            reason = String((err as Error)?.message ?? err);
            return undefined;
          });
          if (pgbouncer !== undefined) summary = { ...read, pgbouncer };
          else {
            summary = { ...read, unreadProxy: { dialledPort: configuredPort(config), serverPort: port, reason: redactText(reason, secrets) || 'no reason given' } };
          }
        }
      }
    } catch (err) {
      serverError = redactText(String((err as Error)?.message ?? err), secrets) || 'no reason given';
    }
  }

  const ctx: RuleContext = { raw, guard, pool: effectiveOptions(raw, guard), instances, server: summary, serverError };
  const { ok, findings, counts } = runRules(RULES, ctx);
  const result: AuditResult = { ok, findings: isPostgresJsSql(input) ? findings.map(inPostgresJsWords) : findings, counts, instances };
  return summary === undefined ? result : { ...result, server: summary };
}
