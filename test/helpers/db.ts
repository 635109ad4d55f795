/** The test server. CI and the project's machines run PostgreSQL 15 on 127.0.0.1:5432. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const START_HINT =
  "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start " +
  '(or point DATABASE_URL at a server you can use)';

/** The same server with a password in the URL: poolguard must never print it. */
export function urlWithPassword(password: string): string {
  const url = new URL(DATABASE_URL);
  url.password = password;
  return url.toString();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `check` returns true, polling; fails with `what` after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}
