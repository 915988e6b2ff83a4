import { redactUrlPasswords } from '../util/secrets.js';

/** Output seam of the CLI, so tests can capture it; a URL's password in any line is redacted (by structure). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(`${redactUrlPasswords(text)}\n`),
  err: (text) => process.stderr.write(`${redactUrlPasswords(text)}\n`),
};

export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (v instanceof Map) return Object.fromEntries(v);
      if (typeof v === 'bigint') return v.toString();
      return v;
    },
    2,
  );
}
