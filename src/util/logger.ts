import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { REDACTED, SECRET_FIELDS, redactUrlPasswords, redactValue } from './secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The logging seam: pass your own (pino, winston, ...) in DataManager options. Fields must be JSON-serialisable. */
export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { log() {} };

/**
 * pino `redact` paths: every secret field at the top of a line's fields, and TLS keys (`key` alone names no secret).
 * No wildcards: `*.password` costs about 20 µs a line in pino's redactor, and a secret field at any depth is already
 * censored by name before pino sees the line (redactValue).
 */
const REDACT_PATHS: readonly string[] = [...SECRET_FIELDS, 'ssl.key', 'tls.key', 'config.ssl.key', 'database.ssl.key'];

/**
 * The default logger: pino, writing one JSON object per line (`level`, `time`, the fields, `message`) to stderr at or
 * above `minLevel`. Secret fields are censored by pino's `redact` paths and, at any depth, by name; URL passwords in
 * the message and in string fields, and errors (reduced to name, message, code), are redacted before pino sees them.
 * `destination` is for tests and embedders.
 */
export function createStderrLogger(minLevel: LogLevel = 'warn', destination?: DestinationStream): Logger {
  return pinoLogger(pino({
    level: minLevel,
    base: undefined,
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => redactValue(fields) as Record<string, unknown>,
    },
    // Errors are already plain {name, message, code}: pino's own serializer would turn them into {type: 'Object'}.
    serializers: { err: (value: unknown) => value },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  }, destination ?? stderr()));
}

let stderrDestination: DestinationStream | undefined;

/** One synchronous stderr destination for every logger of the process: a CLI that exits loses no line. */
function stderr(): DestinationStream {
  stderrDestination ??= pino.destination({ dest: 2, sync: true });
  return stderrDestination;
}

/** A pino logger behind the seam. The level check comes first, so a disabled level costs no redaction. */
function pinoLogger(instance: PinoLogger): Logger {
  return {
    log(level, message, fields) {
      if (!instance.isLevelEnabled(level)) return;
      instance[level](fields ?? {}, redactUrlPasswords(message));
    },
  };
}

/**
 * Wraps a caller's logger so that what it receives is already redacted (by structure: see redactValue), and so that
 * a logger that throws never fails the operation that was logging.
 */
export function redactingLogger(inner: Logger): Logger {
  return {
    log(level, message, fields) {
      try {
        inner.log(level, redactUrlPasswords(message), fields === undefined ? undefined : (redactValue(fields) as Record<string, unknown>));
      } catch {
        // Logging is never a reason for an operation to fail.
      }
    },
  };
}
