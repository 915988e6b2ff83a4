import { createHash } from 'node:crypto';

export const CHECKSUM_ALGORITHM = 'sha256-nl';

/**
 * Checksum of a migration's text, tagged with its algorithm. The text is normalised first so that a file re-saved
 * with CRLF line endings or a byte-order mark keeps its checksum, while any real edit (even whitespace inside a
 * line) changes it. The tag lets a future algorithm coexist with recorded values.
 */
export function migrationChecksum(text: string): string {
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  return `${CHECKSUM_ALGORITHM}:${createHash('sha256').update(normalised, 'utf8').digest('hex')}`;
}
