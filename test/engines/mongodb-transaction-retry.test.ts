import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoNetworkError, MongoServerError, MongoWriteConcernError } from 'mongodb';
import { QueryError } from '../../src/errors/index.js';
import {
  decideTransactionRetry,
  errorLabels,
  transactionBackoff,
  type TransactionRetryInput,
} from '../../src/engines/mongodb/decide-transaction-retry.js';
import { mapMongoError } from '../../src/engines/mongodb/map-mongo-error.js';

/** Errors built with the driver's own classes, as the server's replies would make them. */
function serverError(fields: { code: number; codeName: string; errorLabels?: string[] }): MongoServerError {
  return new MongoServerError({ ok: 0, errmsg: `${fields.codeName} (test)`, ...fields });
}
const writeConflict = () => serverError({ code: 112, codeName: 'WriteConflict', errorLabels: ['TransientTransactionError'] });
const noSuchTransaction = () => serverError({ code: 251, codeName: 'NoSuchTransaction', errorLabels: ['TransientTransactionError'] });
const duplicateKey = () => serverError({ code: 11000, codeName: 'DuplicateKey' });
const commitUnknown = () => serverError({ code: 91, codeName: 'ShutdownInProgress', errorLabels: ['UnknownTransactionCommitResult', 'RetryableWriteError'] });
const commitMaxTime = () => serverError({ code: 50, codeName: 'MaxTimeMSExpired', errorLabels: ['UnknownTransactionCommitResult'] });
function networkDuringCommit(): MongoNetworkError {
  const error = new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed');
  // The driver adds this label itself when a commit's connection breaks.
  error.addErrorLabel('UnknownTransactionCommitResult');
  return error;
}
function writeConcernTimeout(code: number, codeName: string): MongoWriteConcernError {
  const error = new MongoWriteConcernError({ ok: 1, writeConcernError: { code, codeName, errmsg: 'waiting for replication timed out' } });
  error.addErrorLabel('UnknownTransactionCommitResult');
  return error;
}

const base: Omit<TransactionRetryInput, 'phase' | 'error'> = { elapsedMs: 100, timeLimitMs: 120_000, bodyRuns: 1, random: () => 0.5 };

/** [title, input, expected action, expected timedOut] */
const CASES: [string, Partial<TransactionRetryInput> & Pick<TransactionRetryInput, 'phase' | 'error'>, string, boolean][] = [
  ['WriteConflict in the body re-runs the body', { phase: 'body', error: writeConflict() }, 'retry-body', false],
  ['NoSuchTransaction in the body re-runs the body', { phase: 'body', error: noSuchTransaction() }, 'retry-body', false],
  ['a transient error wrapped in a datakeep QueryError still re-runs the body', { phase: 'body', error: mapMongoError('m', writeConflict(), 'query', { connect: 1 }) }, 'retry-body', false],
  ['DuplicateKey in the body fails', { phase: 'body', error: duplicateKey() }, 'fail', false],
  ['an application error in the body fails', { phase: 'body', error: new Error('out of stock') }, 'fail', false],
  ['a transient error after the time limit fails as timed out', { phase: 'body', error: writeConflict(), elapsedMs: 120_000 }, 'fail', true],
  ['a transient error whose backoff would cross the limit fails as timed out', { phase: 'body', error: writeConflict(), elapsedMs: 119_999, bodyRuns: 3 }, 'fail', true],
  ['a transient error at maxAttempts fails (not timed out)', { phase: 'body', error: writeConflict(), bodyRuns: 3, maxBodyRuns: 3 }, 'fail', false],
  ['a transient error below maxAttempts re-runs', { phase: 'body', error: writeConflict(), bodyRuns: 2, maxBodyRuns: 3 }, 'retry-body', false],
  ['UnknownTransactionCommitResult at commit re-runs only the commit', { phase: 'commit', error: commitUnknown() }, 'retry-commit', false],
  ['a network error at commit (labelled by the driver) re-runs only the commit', { phase: 'commit', error: networkDuringCommit() }, 'retry-commit', false],
  ['a write concern timeout at commit re-runs only the commit', { phase: 'commit', error: writeConcernTimeout(64, 'WriteConcernFailed') }, 'retry-commit', false],
  ['a wrapped commit error keeps its label', { phase: 'commit', error: mapMongoError('m', commitUnknown(), 'commit', { connect: 1 }) }, 'retry-commit', false],
  ['MaxTimeMSExpired at commit is not retried even with the label', { phase: 'commit', error: commitMaxTime() }, 'fail', false],
  ['a write concern MaxTimeMSExpired at commit is not retried', { phase: 'commit', error: writeConcernTimeout(50, 'MaxTimeMSExpired') }, 'fail', false],
  ['UnknownTransactionCommitResult after the time limit fails as timed out', { phase: 'commit', error: commitUnknown(), elapsedMs: 130_000 }, 'fail', true],
  ['a transient error at commit re-runs the body', { phase: 'commit', error: noSuchTransaction() }, 'retry-body', false],
  ['an UnknownTransactionCommitResult label in the body is not a commit retry', { phase: 'body', error: commitUnknown() }, 'fail', false],
  ['a plain commit error fails', { phase: 'commit', error: duplicateKey() }, 'fail', false],
  ['a configurable limit applies', { phase: 'body', error: writeConflict(), elapsedMs: 5_000, timeLimitMs: 5_000 }, 'fail', true],
];

describe('decideTransactionRetry (the driver specification rules, explicit)', () => {
  for (const [title, input, action, timedOut] of CASES) {
    it(title, () => {
      const decision = decideTransactionRetry({ ...base, ...input });
      assert.equal(decision.action, action, decision.reason);
      assert.equal(decision.timedOut, timedOut, decision.reason);
      if (action !== 'retry-body') assert.equal(decision.delayMs, 0);
      assert.ok(decision.reason.length > 0);
    });
  }

  it('a body re-run waits the jittered backoff', () => {
    const decision = decideTransactionRetry({ ...base, phase: 'body', error: writeConflict(), bodyRuns: 2, random: () => 0.5 });
    assert.equal(decision.delayMs, 0.5 * 5 * 1.5 ** 2);
  });
});

describe('transactionBackoff', () => {
  it('grows 1.5x from 5 ms and is capped at 500 ms, scaled by jitter', () => {
    const one = () => 1;
    assert.equal(transactionBackoff(0, one), 5);
    assert.equal(transactionBackoff(1, one), 7.5);
    assert.equal(transactionBackoff(2, one), 11.25);
    assert.equal(transactionBackoff(30, one), 500);
    assert.equal(transactionBackoff(30, () => 0), 0);
    assert.equal(transactionBackoff(30, () => 0.25), 125);
  });
});

describe('errorLabels', () => {
  it('collects labels through cause chains', () => {
    const wrapped = new QueryError('m', 'outer', { cause: new Error('middle', { cause: writeConflict() }) });
    assert.deepEqual([...errorLabels(wrapped)], ['TransientTransactionError']);
  });

  it('finds none on errors without labels, and on non-errors', () => {
    assert.equal(errorLabels(new Error('x')).size, 0);
    assert.equal(errorLabels(undefined).size, 0);
    assert.equal(errorLabels('text').size, 0);
  });

  it('stops on cyclic causes', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.equal(errorLabels(a).size, 0);
  });
});
