import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { createStderrLogger, redactingLogger, type Logger, type LogLevel } from '../../src/util/logger.js';
import { logOperation } from '../../src/util/log-operation.js';
import { redactUrlPasswords, redactValue } from '../../src/util/secrets.js';

/** The default (pino) logger writing into an array; `text()` is what it wrote. */
function pinoLines(level: LogLevel | undefined): { logger: Logger; text: () => string } {
  const raw: string[] = [];
  const logger = createStderrLogger(level, { write: (line: string) => void raw.push(line) });
  return { logger, text: () => raw.join('') };
}

const parse = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('logs on pino, redacted by structure', () => {
  it('a log line with a password field, a nested secret or a URL with userinfo is redacted; the rest stays', () => {
    const { logger, text } = pinoLines('info');
    logger.log('warn', 'cannot reach postgres://app:hunter2@db.internal:5432/postgres', {
      password: 'hunter2',
      database: { id: 'postgresql-127.0.0.1-postgres', sentinelPassword: 's3nt1nel', options: { token: 't0ken' } },
      url: 'redis://default:r3dis@cache:6379/0',
      passwordFile: '/run/secrets/pg',
      target: new URL('postgres://app:urlpw@db.internal/app'),
      error: new ConnectionError('db', 'connect failed for mongodb://u:m0ngo@h:27017/x'),
    });
    const [line] = parse(text());
    const out = JSON.stringify(line);
    for (const secret of ['hunter2', 's3nt1nel', 't0ken', 'r3dis', 'm0ngo', 'urlpw']) assert.ok(!out.includes(secret), `${secret} in ${out}`);
    assert.equal(line!.level, 'warn');
    assert.match(String(line!.time), /^\d{4}-\d\d-\d\dT/);
    assert.equal(line!.message, 'cannot reach postgres://app:[redacted]@db.internal:5432/postgres');
    assert.equal(line!.password, '[redacted]');
    assert.equal(line!.url, 'redis://default:[redacted]@cache:6379/0');
    assert.equal(line!.passwordFile, '/run/secrets/pg', 'a path to a secret is not a secret');
    assert.equal(line!.target, 'postgres://app:[redacted]@db.internal/app');
    assert.deepEqual((line!.database as Record<string, unknown>).id, 'postgresql-127.0.0.1-postgres');
    assert.deepEqual(line!.error, { name: 'ConnectionError', message: 'db: connect failed for mongodb://u:[redacted]@h:27017/x', code: 'DK_CONNECTION' });
  });

  it('pino redact paths censor a TLS key, which is not a secret by its name alone', () => {
    const { logger, text } = pinoLines('debug');
    logger.log('info', 'tls', { ssl: { key: '-----BEGIN PRIVATE KEY-----abc', rejectUnauthorized: true } });
    const [line] = parse(text());
    assert.deepEqual(line!.ssl, { key: '[redacted]', rejectUnauthorized: true });
  });

  it('writes nothing below the level, and the default level is warn', () => {
    const { logger, text } = pinoLines(undefined);
    logger.log('info', 'not shown');
    logger.log('debug', 'not shown');
    logger.log('error', 'shown');
    assert.deepEqual(parse(text()).map((l) => l.message), ['shown']);
  });

  it('a caller\'s logger receives redacted lines, and one that throws never fails the operation', async () => {
    const got: unknown[] = [];
    const logger = redactingLogger({ log: (level, message, fields) => got.push({ level, message, fields }) });
    logger.log('info', 'open mysql://root:postgres@h/postgres', { passphrase: 'wrong', reason: 'wrong-passphrase', adapterId: 'postgresql-h-postgres' });
    assert.deepEqual(got, [{ level: 'info', message: 'open mysql://root:[redacted]@h/postgres', fields: { passphrase: '[redacted]', reason: 'wrong-passphrase', adapterId: 'postgresql-h-postgres' } }]);
    const throwing = redactingLogger({ log: () => { throw new Error('disk full'); } });
    assert.equal(await logOperation(throwing, 'test.op', {}, async () => 42), 42);
  });

  it('never searches text for a secret: the password postgres leaves postgresql, ids and results intact', () => {
    const config = resolveDatabaseConfig({ type: 'postgresql', host: '127.0.0.1', database: 'postgres', password: 'postgres' }, 'databases[0]');
    assert.equal(config.id, 'postgresql-127.0.0.1-postgres');
    assert.equal(config.password, 'postgres');
    assert.equal(redactUrlPasswords("SELECT 'postgresql rocks'"), "SELECT 'postgresql rocks'");
    assert.deepEqual(redactValue({ rows: [{ t: 'postgresql rocks' }], adapterId: config.id }), { rows: [{ t: 'postgresql rocks' }], adapterId: 'postgresql-127.0.0.1-postgres' });
    const error = new ConnectionError(config.id, 'the passphrase is wrong-passphrase for postgresql');
    assert.equal(error.message, 'postgresql-127.0.0.1-postgres: the passphrase is wrong-passphrase for postgresql');
    assert.ok(!JSON.stringify(config).includes('"password"'));
  });

  it('a secret field of the wrong type is not echoed in the configuration error', () => {
    assert.throws(() => resolveDatabaseConfig({ type: 'postgresql', host: 'h', password: 987654321 }, 'db'), (e: unknown) => e instanceof ConfigurationError && /expected a string, got number/.test(e.message) && !e.message.includes('987654321'));
  });

  it('a TLS key stays readable for the driver and out of JSON', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nsecret-key-body\n-----END PRIVATE KEY-----\n';
    const cert = '-----BEGIN CERTIFICATE-----\ncert-body\n-----END CERTIFICATE-----\n';
    const config = resolveDatabaseConfig({ type: 'postgresql', host: 'h', ssl: { key: pem, cert } }, 'db');
    assert.equal((config.ssl as { key?: string }).key, pem);
    assert.ok(!JSON.stringify(config).includes('secret-key-body'));
  });

  it('logOperation logs start, end with durationMs and result fields, and failure at error with the error', async () => {
    const got: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { log: (level, message, fields) => got.push({ level, message, fields }) };
    await logOperation(logger, 'backup.verify', { backupId: 'b1' }, async () => ({ ok: false }), { result: (r) => ({ ok: r.ok }), failed: (r) => !r.ok });
    await assert.rejects(logOperation(logger, 'backup.create', { database: 'app' }, async () => { throw new Error('boom'); }), /boom/);
    assert.deepEqual(got.map((l) => [l.level, l.message]), [
      ['info', 'backup.verify started'], ['error', 'backup.verify failed'], ['info', 'backup.create started'], ['error', 'backup.create failed'],
    ]);
    assert.equal(got[1]!.fields!.backupId, 'b1');
    assert.equal(typeof got[1]!.fields!.durationMs, 'number');
    assert.equal((got[3]!.fields!.error as Error).message, 'boom');
  });
});
