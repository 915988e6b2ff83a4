import {
  BSON,
  MongoAPIError,
  MongoClientClosedError,
  MongoError,
  MongoMissingCredentialsError,
  MongoMissingDependencyError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoParseError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoTransactionError,
} from 'mongodb';
import {
  AuthenticationError,
  ConfigurationError,
  ConnectionError,
  DatakeepError,
  LifecycleError,
  QueryError,
  TimeoutError,
  TransactionError,
} from '../../errors/index.js';

/** Where the error happened: making the connection (safe to retry), running a command, or committing. */
export type MongoErrorPhase = 'connect' | 'query' | 'commit';

const AUTHENTICATION_FAILED = 18;
const MAX_TIME_MS_EXPIRED = 50;
const DUPLICATE_KEY = 11000;
/**
 * Write errors (from insert/update/delete replies, and MongoBulkWriteError) carry a code but no codeName; these are the
 * names the server gives the codes that surface there, so that `sqlState` is the same name whichever path reported it.
 */
const WRITE_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [2, 'BadValue'], [9, 'FailedToParse'], [13, 'Unauthorized'], [14, 'TypeMismatch'], [26, 'NamespaceNotFound'],
  [50, 'MaxTimeMSExpired'], [52, 'DollarPrefixedFieldName'], [56, 'EmptyFieldName'], [57, 'DottedFieldName'],
  [64, 'WriteConcernFailed'], [66, 'ImmutableField'], [112, 'WriteConflict'], [121, 'DocumentValidationFailure'],
  [251, 'NoSuchTransaction'], [263, 'OperationNotSupportedInTransaction'], [11000, 'DuplicateKey'], [17280, 'KeyTooLong'],
]);
/** Server errors that mean "this member cannot serve you now" (stepdown, shutdown), not "your command is wrong". */
const STATE_CHANGE_CODES = new Set([91, 189, 10107, 11600, 11602, 13435, 13436]);

/**
 * Maps an error from the `mongodb` driver to a datakeep error, keeping the driver's error as `cause` (its error
 * labels stay readable there, which the transaction retry rules rely on). A server error becomes a QueryError whose
 * `sqlState` is MongoDB's codeName (e.g. "DuplicateKey"), the engine's stable code. Network and server-selection
 * errors become ConnectionError/TimeoutError: retriable only while connecting, "may have run" for a command, and
 * `outcomeUnknown` during a commit.
 */
export function mapMongoError(adapterId: string, raw: unknown, phase: MongoErrorPhase, timeouts: { connect: number; statement?: number }): DatakeepError {
  if (raw instanceof DatakeepError) return raw;
  if (!(raw instanceof MongoError)) {
    const message = raw instanceof Error ? raw.message : String(raw);
    return new QueryError(adapterId, message, { cause: raw });
  }
  const message = raw.message;

  if (raw instanceof MongoServerSelectionError) {
    if (phase === 'commit') return commitUnknown(adapterId, message, raw);
    return new TimeoutError(
      'connect',
      `${adapterId}: no suitable MongoDB server within ${timeouts.connect} ms (${message}). ` +
        'Check host and port, that mongod is running and reachable, and that replicaSet matches the set name (or set directConnection: true for one host)',
      { timeoutMs: timeouts.connect, cause: raw },
    );
  }
  if (raw instanceof MongoNetworkError) {
    if (phase === 'commit') return commitUnknown(adapterId, message, raw);
    if (raw instanceof MongoNetworkTimeoutError) {
      if (phase === 'connect') return new TimeoutError('connect', `${adapterId}: could not connect within ${timeouts.connect} ms (${message})`, { timeoutMs: timeouts.connect, cause: raw });
      return new TimeoutError('operation', `${adapterId}: no reply in time; the command may have run (${message})`, { cause: raw });
    }
    if (phase === 'connect') return new ConnectionError(adapterId, `cannot connect: ${message}`, { cause: raw, retriable: true });
    return new ConnectionError(adapterId, `connection lost while running a command; it may have run (${message})`, { cause: raw, retriable: false });
  }
  if (raw instanceof MongoServerError) {
    const code = typeof raw.code === 'number' ? raw.code : undefined;
    if (code === AUTHENTICATION_FAILED) {
      return new AuthenticationError(
        adapterId,
        `authentication failed (${message}). Check username and password, and options.authSource: the database the user was created in ` +
          '(by default the URL path or the database field; users made by the Docker image\'s MONGO_INITDB_ROOT_USERNAME live in "admin")',
        { cause: raw },
      );
    }
    if (code === MAX_TIME_MS_EXPIRED) {
      return new TimeoutError('statement', `${adapterId}: the command exceeded its time limit (maxTimeMS${timeouts.statement ? ` ${timeouts.statement} ms` : ''}): ${message}`, { timeoutMs: timeouts.statement, cause: raw });
    }
    if (code !== undefined && STATE_CHANGE_CODES.has(code)) {
      if (phase === 'commit') return commitUnknown(adapterId, message, raw);
      return new ConnectionError(adapterId, `the server stepped down or is shutting down (${raw.codeName ?? code}: ${message}); retry once a primary is elected`, { cause: raw, retriable: phase === 'connect' });
    }
    const fields: { sqlState?: string; detail?: string; constraint?: string; table?: string; cause: unknown } = { cause: raw };
    const sqlState = raw.codeName ?? (code !== undefined ? WRITE_ERROR_NAMES.get(code) ?? String(code) : undefined);
    if (sqlState !== undefined) fields.sqlState = sqlState;
    if (code === DUPLICATE_KEY) {
      const index = /index: (\S+)/.exec(message)?.[1];
      const collection = /collection: \S+?\.(\S+)/.exec(message)?.[1];
      if (index) fields.constraint = index;
      if (collection) fields.table = collection;
    }
    const firstWriteError: unknown = Array.isArray(raw.writeErrors) ? raw.writeErrors[0] : raw.writeErrors;
    const detail = raw.errInfo ?? (firstWriteError as { errInfo?: unknown } | undefined)?.errInfo ?? (raw.writeConcernError as { errInfo?: unknown } | undefined)?.errInfo;
    if (detail !== undefined) fields.detail = stringifyDetail(detail);
    return new QueryError(adapterId, message, fields);
  }
  if (raw instanceof MongoOperationTimeoutError) {
    return new TimeoutError('operation', `${adapterId}: ${message}`, { cause: raw });
  }
  if (raw instanceof MongoTopologyClosedError || raw instanceof MongoClientClosedError || raw instanceof MongoNotConnectedError || raw instanceof MongoServerClosedError) {
    return new LifecycleError(`${adapterId}: the MongoDB client is closed (${message}); create a new adapter`);
  }
  if (raw instanceof MongoTransactionError) {
    return new TransactionError(adapterId, message, { cause: raw });
  }
  if (phase === 'connect' && (raw instanceof MongoParseError || raw instanceof MongoMissingCredentialsError || raw instanceof MongoMissingDependencyError)) {
    return new ConfigurationError(`databases (${adapterId}).url`, `the MongoDB driver refused the connection settings: ${message}`, 'Fix the connection string or options (see docs/mongodb.md)', { cause: raw });
  }
  if (raw instanceof MongoAPIError) {
    return new QueryError(adapterId, `the MongoDB driver refused the command: ${message}`, { cause: raw });
  }
  return new QueryError(adapterId, message, { cause: raw, ...(raw.code !== undefined ? { sqlState: String(raw.code) } : {}) });
}

function commitUnknown(adapterId: string, message: string, raw: unknown): ConnectionError {
  return new ConnectionError(adapterId, `connection lost during commitTransaction; the transaction may or may not have committed (${message})`, { cause: raw, outcomeUnknown: true });
}

function stringifyDetail(detail: unknown): string {
  try {
    const text = BSON.EJSON.stringify(detail as BSON.Document, { relaxed: true });
    return text.length > 2000 ? `${text.slice(0, 1997)}...` : text;
  } catch {
    return String(detail);
  }
}
