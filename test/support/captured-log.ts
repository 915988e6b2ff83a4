import type { Logger, LogLevel } from '../../src/util/logger.js';

export interface CapturedLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

/**
 * A logger that keeps every line, as the DataManager hands it over (after redaction), so that a test can wait for
 * one and search them all (`text()`: every line as JSON) for a secret.
 */
export class CapturedLog implements Logger {
  readonly lines: CapturedLine[] = [];

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level, message, fields });
  }

  count(matches: (line: CapturedLine) => boolean): number {
    return this.lines.filter(matches).length;
  }

  text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join('\n');
  }

  /** Resolves once `count(matches)` reaches `atLeast`; throws after `timeoutMs`, naming `what`. */
  async waitFor(matches: (line: CapturedLine) => boolean, what: string, atLeast = 1, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(matches) < atLeast) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the log line: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The adapter's line after it replaced its connections for a new password. */
export const rotated = (adapter: string) => (line: CapturedLine) => line.message.startsWith('password changed; new connections use it') && line.fields?.adapter === adapter;
/** The adapter's line for a password file it could not use. */
export const unusable = (adapter: string) => (line: CapturedLine) => line.message.startsWith('password file cannot be used') && line.fields?.adapter === adapter;
