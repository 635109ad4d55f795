import { describe, expect, it } from 'vitest';
import { passwordOf, redactText, redactUrl } from '../../src/audit/redact.js';

describe('redaction of what the audit and the CLI print', () => {
  it('masks the password of a URL, and secret query parameters', () => {
    expect(redactUrl('postgres://app:s3cr%40t@db:5432/orders?sslmode=require&password=x')).toBe('postgres://app:***@db:5432/orders?sslmode=require&password=***');
    expect(redactUrl('host=db user=app password=s3cret dbname=orders')).toBe('host=db user=app password=*** dbname=orders');
    expect(passwordOf('postgres://app:s3cr%40t@db/orders')).toBe('s3cr@t');
  });

  it('masks secrets in free text but keeps the driver\'s message readable and JSON valid', () => {
    expect(redactText('password authentication failed for user "app"')).toBe('password authentication failed for user "app"');
    expect(redactText("ALTER ROLE app PASSWORD 'it''s secret'")).toBe("ALTER ROLE app PASSWORD '***'");
    expect(redactText('dial postgres://app:pw@db/x failed')).toBe('dial postgres://app:***@db/x failed');
    expect(JSON.parse(redactText(JSON.stringify({ dsn: 'host=db password=abc', note: 'token hunter22' }), ['hunter22']))).toEqual({ dsn: 'host=db password=***', note: 'token ***' });
  });
});
