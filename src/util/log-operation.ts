import type { Logger, LogLevel } from './logger.js';

export interface OperationLogOptions<T> {
  /** Fields from the result for the end line (ids, counts, bytes). */
  readonly result?: (value: T) => Record<string, unknown>;
  /** A result that is itself a failure (a verification that found problems): the end line is logged at error. */
  readonly failed?: (value: T) => boolean;
  /** Level of the start and end lines (default info); `debug` for periodic work that would flood info. */
  readonly level?: LogLevel;
}

/**
 * Runs `fn`, logging `<operation> started` and then `<operation> finished` with `durationMs` (milliseconds), or
 * `<operation> failed` at error with `durationMs` and the error, which is rethrown unchanged. Every line carries
 * `operation` and `fields` (the ids: backup id, database id, global transaction id, migration version).
 */
export async function logOperation<T>(logger: Logger, operation: string, fields: Record<string, unknown>, fn: () => Promise<T>, options: OperationLogOptions<T> = {}): Promise<T> {
  const level = options.level ?? 'info';
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  logger.log(level, `${operation} started`, { operation, ...fields });
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    logger.log('error', `${operation} failed`, { operation, ...fields, durationMs: elapsed(), error });
    throw error;
  }
  const failed = options.failed?.(value) ?? false;
  logger.log(failed ? 'error' : level, `${operation} ${failed ? 'failed' : 'finished'}`, { operation, ...fields, ...options.result?.(value), durationMs: elapsed() });
  return value;
}
