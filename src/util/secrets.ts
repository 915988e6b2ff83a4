/**
 * Process-wide registry of secret strings (passwords, passphrases) so that every error message and log line can be
 * scrubbed of them, whatever code path built the text. Registering is cheap and idempotent; short strings are ignored
 * because redacting "a" or "1" would mangle unrelated text and such values protect nothing.
 */
const secrets = new Set<string>();
const MIN_SECRET_LENGTH = 3;
export const REDACTED = '[redacted]';

export function registerSecret(value: string | undefined | null): void {
  if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH) {
    secrets.add(value);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) secrets.add(encoded);
  }
}

/** Replaces every registered secret, and the password part of any URL, in `text`. Never throws. */
export function redactSecrets(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/\s]*)@/gi, `$1${REDACTED}@`);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}
