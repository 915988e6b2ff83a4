import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/cli-io.js';

export interface CapturedIo extends CliIo {
  readonly stdout: string[];
  readonly stderr: string[];
  /** stdout parsed as one JSON document (what --json prints). */
  json<T = Record<string, unknown>>(): T;
}

/** A CliIo that keeps every line, for assertions. */
export function captureIo(): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), json: <T>() => JSON.parse(stdout.join('\n')) as T };
}

/** Runs `datakeep <args>` in this process (with `--config configFile` when given): its exit code and output. */
export async function runCliCaptured(args: readonly string[], configFile?: string): Promise<{ code: number; io: CapturedIo }> {
  const io = captureIo();
  const code = await runCli(configFile === undefined ? [...args] : [...args, '--config', configFile], io);
  return { code, io };
}
