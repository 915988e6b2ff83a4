import { redactSecrets } from './secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The logging seam: pass your own (pino, winston, ...) in DataManager options. Fields must be JSON-serialisable. */
export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Writes JSON lines to stderr at or above `minLevel`. Every line goes through `redactSecrets`, so a password that ends
 * up in an error message or a field is replaced before it is written.
 */
export function createStderrLogger(minLevel: LogLevel = 'warn'): Logger {
  return {
    log(level, message, fields) {
      if (ORDER[level] < ORDER[minLevel]) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }, errorReplacer);
      process.stderr.write(`${redactSecrets(line)}\n`);
    },
  };
}

/** Wraps any logger so that what it receives is already redacted. */
export function redactingLogger(inner: Logger): Logger {
  return {
    log(level, message, fields) {
      const safeFields = fields === undefined ? undefined : (JSON.parse(redactSecrets(JSON.stringify(fields, errorReplacer))) as Record<string, unknown>);
      inner.log(level, redactSecrets(message), safeFields);
    },
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return value;
}

export const silentLogger: Logger = { log() {} };
