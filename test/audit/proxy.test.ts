import { afterEach, describe, expect, it } from 'vitest';
import { audit } from '../../src/index.js';
import { DATABASE_URL } from '../helpers/db.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { SOUND } from './helpers.js';

describe('audit behind a proxy it cannot read', () => {
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
  });

  it('says a pooler or proxy is in between and why its limits were not read; a direct connection says nothing of the kind', async () => {
    proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(DATABASE_URL).port || 5432) });
    await proxy.start();
    const viaProxy = new URL(DATABASE_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    viaProxy.password = 'proxy-Secr3t';
    const result = await audit({ options: { ...SOUND, connectionString: viaProxy.toString() }, server: viaProxy.toString() });
    const finding = result.findings.find((f) => f.rule === 'proxy-unread');
    expect(finding?.severity).toBe('warning');
    expect(finding?.message).toContain(`the pool dials port ${proxy.port} but the server listens on ${new URL(DATABASE_URL).port || 5432}`);
    expect(finding?.message).toMatch(/database "pgbouncer" does not exist/);
    expect(JSON.stringify(result)).not.toContain('proxy-Secr3t');

    const direct = await audit({ options: { ...SOUND, connectionString: DATABASE_URL }, server: DATABASE_URL });
    expect(direct.findings.some((f) => f.rule === 'proxy-unread')).toBe(false);
  });
});
