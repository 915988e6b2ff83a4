import { renameSync, writeFileSync } from 'node:fs';

/** Replaces `file` atomically (a new file renamed over it), as a Kubernetes secret mount or an editor does. */
export function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}
