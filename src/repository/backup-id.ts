import { randomBytes } from 'node:crypto';

/** `20261128T203000Z-123a1b2c3d`: UTC time to the second, then milliseconds and random hex, so ids sort by time and
 * two backups started in the same millisecond still differ. */
export function newBackupId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${String(now.getUTCMilliseconds()).padStart(3, '0')}${randomBytes(4).toString('hex')}`;
}

export const BACKUP_ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{11}$/;

export function isBackupId(value: string): boolean {
  return BACKUP_ID_PATTERN.test(value);
}
