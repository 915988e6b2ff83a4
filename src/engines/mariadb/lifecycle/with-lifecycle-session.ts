import type { DedicatedSession, SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';

/**
 * Runs `fn` on a session of its own set to UTC (and, with `lockTimeoutMs`, to lock waits of that many whole seconds,
 * at least 1), and puts the session's settings back before the pool gets it again.
 *
 * UTC because TIMESTAMP values are shown and read in the session's time zone: in a zone with daylight saving time the
 * hour that repeats each autumn has two instants with the same text, so a record read there would not restore
 * exactly. The cutoff of a policy's age is given in UTC too (DATETIME and DATE columns are taken as UTC).
 */
export async function withLifecycleSession<T>(adapter: SqlDatabaseAdapter, lockTimeoutMs: number | undefined, fn: (session: DedicatedSession) => Promise<T>): Promise<T> {
  return adapter.withSession(async (session) => {
    const seconds = lockTimeoutMs === undefined ? undefined : Math.max(1, Math.ceil(lockTimeoutMs / 1000));
    const lock = seconds === undefined
      ? ''
      : `, @dk_lc_lwt = @@session.lock_wait_timeout, @dk_lc_ilwt = @@session.innodb_lock_wait_timeout, SESSION lock_wait_timeout = ${seconds}, SESSION innodb_lock_wait_timeout = ${seconds}`;
    await session.execute(`SET @dk_lc_tz = @@session.time_zone, SESSION time_zone = '+00:00'${lock}`);
    try {
      return await fn(session);
    } finally {
      const restore = seconds === undefined ? '' : ', SESSION lock_wait_timeout = @dk_lc_lwt, SESSION innodb_lock_wait_timeout = @dk_lc_ilwt';
      // A session whose connection broke is destroyed by withSession; any other failure here leaves only UTC behind.
      await session.execute(`SET SESSION time_zone = @dk_lc_tz${restore}`).catch(() => undefined);
    }
  });
}

/** A Date as DATETIME(6) text in UTC (the zone withLifecycleSession sets). */
export function utcDatetime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
