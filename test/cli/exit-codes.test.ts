// Which exit code each kind of failure gets (docs/cli.md). The errors are the ones each engine's own mapping makes of
// what its driver reports; the real-server cases are in cli-errors (Redis) and backup-cli (restore).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoServerError } from 'mongodb';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes.js';
import { mapMariadbError } from '../../src/engines/mariadb/map-mariadb-error.js';
import { mapMongoError } from '../../src/engines/mongodb/map-mongo-error.js';
import { PostgresBackupError } from '../../src/engines/postgres/backup/postgres-backup-error.js';
import { mapPostgresError } from '../../src/engines/postgres/map-postgres-error.js';
import { mapRedisError } from '../../src/engines/redis/map-redis-error.js';
import { AuthenticationError, CircuitOpenError, ConnectionError, MigrationError, RepositoryError, TimeoutError, UsageError } from '../../src/errors/index.js';

/** What ioredis rejects with for an error reply. */
function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

describe('exit codes', () => {
  it('a refused login is an AuthenticationError (still a ConnectionError) on every engine, and exits 2, not 3', () => {
    const refused = [
      mapPostgresError('pg', { code: '28P01', severity: 'FATAL', message: 'password authentication failed for user "app"' }, 'connect', { connect: 1000 }),
      mapPostgresError('pg', { code: '28000', severity: 'FATAL', message: 'no pg_hba.conf entry for host "10.0.0.1"' }, 'connect', { connect: 1000 }),
      mapMariadbError('maria', { errno: 1045, sqlState: '28000', sqlMessage: "Access denied for user 'app'@'localhost'", message: 'Access denied' }, 'connect', { connectTimeout: 1000, statementTimeout: undefined, database: 'app', poolSize: 1 }),
      mapMongoError('mongo', new MongoServerError({ ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' }), 'connect', { connect: 1000 }),
      mapRedisError('redis', replyError('WRONGPASS invalid username-password pair or user is disabled.'), 'connect', { connect: 1000, command: undefined }),
    ];
    for (const error of refused) {
      assert.ok(error instanceof AuthenticationError, `${error.name}: ${error.message}`);
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.code, 'DK_CONNECTION');
      assert.equal((error as ConnectionError).retriable, false);
      assert.equal(exitCodeFor(error), EXIT.usage, error.message);
    }
  });

  it('a server that cannot be reached exits 3', () => {
    assert.equal(exitCodeFor(mapPostgresError('pg', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'connect', { connect: 1000 })), EXIT.unreachable);
    assert.equal(exitCodeFor(new ConnectionError('pg', 'gone')), EXIT.unreachable);
    assert.equal(exitCodeFor(new TimeoutError('connect', 'pg: could not connect within 10 ms')), EXIT.unreachable);
    assert.equal(exitCodeFor(new CircuitOpenError('pg', 5, new Date())), EXIT.unreachable);
  });

  it('what the library refuses before doing anything because of an argument exits 2; a failure once started exits 1', () => {
    assert.equal(exitCodeFor(new UsageError('--to', 'bad')), EXIT.usage);
    assert.equal(exitCodeFor(new MigrationError('unknown-version', 'app', '"123" is not a known migration version')), EXIT.usage);
    assert.equal(exitCodeFor(new PostgresBackupError('unsafe-destination', 'to: "/x" is not empty')), EXIT.usage);
    assert.equal(exitCodeFor(new PostgresBackupError('target-unreachable', 'in the future')), EXIT.usage);
    assert.equal(exitCodeFor(new RepositoryError('not-a-repository', '/x is not a datakeep repository')), EXIT.usage);
    assert.equal(exitCodeFor(new RepositoryError('wrong-passphrase', 'the passphrase does not unlock /x')), EXIT.usage);
    assert.equal(exitCodeFor(new MigrationError('failed', 'app', '4_four failed')), EXIT.failed);
    assert.equal(exitCodeFor(new PostgresBackupError('recovery-failed', 'did not start')), EXIT.failed);
    assert.equal(exitCodeFor(new RepositoryError('corrupt-object', 'chunk x')), EXIT.failed);
    assert.equal(exitCodeFor(new Error('anything else')), EXIT.failed);
  });
});
