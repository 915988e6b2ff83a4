import { DatakeepError } from '../errors/index.js';
import { toJson, type CliIo } from './cli-io.js';

/**
 * How a failed command tells why: `datakeep: <reason>` on stderr, every further line of a multi-line error indented
 * (the server's FATAL line, the log's path, the cleanup a failed restore did); with --json, `{"error": {...}}` on
 * stdout as well, merged into `report` when the command has one (health reports every database and the error).
 */
export function reportError(io: CliIo, error: unknown, json: boolean, report?: Record<string, unknown>): void {
  const message = error instanceof Error ? error.message : String(error);
  if (json) {
    const detail = error instanceof DatakeepError ? error.toJSON() : { name: error instanceof Error ? error.name : 'Error', message };
    io.out(toJson({ ...report, error: detail }));
  }
  io.err(`datakeep: ${message.split('\n').join('\n  ')}`);
}
