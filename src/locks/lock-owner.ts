import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** A unique owner token that also says who and since when: `host:pid:isoTime:random`. */
export function newLockOwner(): { token: string; since: Date } {
  const since = new Date();
  return { token: `${hostname()}:${process.pid}:${since.toISOString()}:${randomBytes(4).toString('hex')}`, since };
}

export function describeOwner(token: string): { description: string; since: Date | undefined } {
  const match = /^(.*):(\d+):(\d{4}-\d\d-\d\dT[\d:.]+Z):[0-9a-f]+$/.exec(token);
  if (!match) return { description: token, since: undefined };
  return { description: `process ${match[2]} on ${match[1]}`, since: new Date(match[3]!) };
}
