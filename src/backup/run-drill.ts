import { UsageError } from '../errors/index.js';
import type { BackupDriver } from './backup-driver.js';
import type { RecoverabilityWindow, RestoreOptions, RestoreResult, RestoreTarget } from './backup-types.js';
import type { DrillChecks, DrillRunResult } from './drill-types.js';

export interface DrillOptions {
  /** Which database's backups (default: every repository under the destination). */
  database?: string;
  destination?: string;
  passphraseFile?: string;
  /** Also restore to a random instant inside the recoverability window (default true). */
  pointInTime?: boolean;
  checks?: DrillChecks;
  /** A server for logical backups' scratch databases (default: an embedded database in a temporary directory). */
  target?: RestoreTarget;
  /** Source of randomness for the point-in-time target (tests pass a seeded one). */
  random?: () => number;
}

export interface DrillReport {
  readonly database: string;
  readonly at: string;
  readonly ok: boolean;
  readonly runs: readonly DrillRunResult[];
}

/**
 * Restore drills for every database with backups: the newest backup replayed to the end of the archive, and a random
 * instant of the recoverability window, each restored, started and checked in a scratch directory, then removed.
 * Every report is recorded (`record`), failed ones too: a drill that fails is the news a drill exists to bring.
 */
export async function runDrills(deps: {
  windows: () => Promise<(RecoverabilityWindow & { driver: Pick<BackupDriver, 'drill'> })[]>;
  restore: (options: RestoreOptions) => Promise<RestoreResult>;
  record: (report: DrillReport) => Promise<void>;
}, options: DrillOptions): Promise<DrillReport[]> {
  if (options.checks?.sql !== undefined && options.checks.sql.trim() === '') throw new UsageError('checks.sql', 'is empty; give a query whose first column is true when the restored data is right');
  const reports: DrillReport[] = [];
  for (const window of await deps.windows()) {
    if (!window.from) continue;
    const at = new Date().toISOString();
    const restore = (target: Date | undefined) => (to: string, port: number, into?: RestoreTarget) => deps.restore({
      database: window.database, destination: options.destination, passphraseFile: options.passphraseFile,
      ...(into === undefined ? { to, targetTime: target, start: { port } } : { target: into }),
    });
    const { driver, ...drilled } = window;
    const runs: DrillRunResult[] = [await driver.drill({ kind: 'latest', checks: options.checks, restore: restore(undefined), window: drilled, server: options.target })];
    const target = options.pointInTime === false ? undefined : randomInstant(window, options.random ?? Math.random);
    if (target) runs.push(await driver.drill({ kind: 'point-in-time', target, checks: options.checks, restore: restore(target), window: drilled, server: options.target }));
    const report = { database: window.database, at, ok: runs.every((r) => r.ok), runs };
    await deps.record(report);
    reports.push(report);
  }
  return reports;
}

/** A whole millisecond strictly inside the window (after its first consistency point, before its last commit). */
function randomInstant(window: RecoverabilityWindow, random: () => number): Date | undefined {
  if (!window.from || !window.to?.time) return undefined;
  const from = new Date(window.from.time).getTime() + 1;
  const to = new Date(window.to.time).getTime() - 1;
  if (to <= from) return undefined;
  return new Date(from + Math.floor(random() * (to - from)));
}
