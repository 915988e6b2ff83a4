// The failover benchmark's measurements, computed the way ../shared/anchors/anchor-failover.sh computes Patroni's:
//   RTO  = kill -> first acknowledged INSERT after it (on the new primary)
//   lost = acknowledged ids missing on the new primary
import { median } from './stats.js';

export interface TrialFigures {
  /** Seconds from the kill to the first acknowledgement after it; undefined when none came (no failover). */
  readonly rtoS: number | undefined;
  readonly acked: number;
  readonly lost: number;
  readonly lostIds: readonly number[];
  readonly preKillAcks: number;
  /** Failed attempts after the kill, by error name. */
  readonly errors: Readonly<Record<string, number>>;
  /** Where the first acknowledged row after the kill was written (its row's port on the new primary), if found. */
  readonly firstAckPort: number | undefined;
}

export interface AckLog {
  readonly acks: readonly { ts: number; id: number }[];
  readonly errors: readonly { ts: number; id: number; name: string }[];
}

/** Reads the writer's lines (`A ts id`, `E ts id name mayHaveCommitted`); other lines are ignored. */
export function parseAckLog(text: string): AckLog {
  const acks: { ts: number; id: number }[] = [];
  const errors: { ts: number; id: number; name: string }[] = [];
  for (const line of text.split('\n')) {
    const [kind, ts, id, name] = line.split(' ');
    if (kind === 'A') acks.push({ ts: Number(ts), id: Number(id) });
    else if (kind === 'E') errors.push({ ts: Number(ts), id: Number(id), name: name ?? '?' });
  }
  return { acks, errors };
}

/**
 * While the trial waits: an acknowledgement that can only have come from a new primary, i.e. after the kill and after
 * a failed attempt after it, or more than a second after it. An acknowledgement a few ms after the kill can be the
 * killed primary's reply already on its way.
 */
export function ackAfterFailover(log: AckLog, killedAtS: number): boolean {
  const firstError = log.errors.find((e) => e.ts > killedAtS);
  return log.acks.some((a) => a.ts > killedAtS + 1 || (firstError !== undefined && a.ts > firstError.ts));
}

/**
 * `present`: id -> the port that wrote the row (its column default inet_server_port()), as read on the new primary.
 * The RTO ends at the first acknowledgement after the kill whose row a server other than the killed one wrote.
 */
export function trialFigures(log: AckLog, killedAtS: number, present: ReadonlyMap<number, number>, killedPort: number): TrialFigures {
  const first = log.acks.find((a) => a.ts > killedAtS && present.has(a.id) && present.get(a.id) !== killedPort);
  const lostIds = log.acks.filter((a) => !present.has(a.id)).map((a) => a.id).sort((a, b) => a - b);
  const errors: Record<string, number> = {};
  for (const e of log.errors) if (e.ts > killedAtS) errors[e.name] = (errors[e.name] ?? 0) + 1;
  return {
    rtoS: first === undefined ? undefined : first.ts - killedAtS,
    acked: log.acks.length,
    lost: lostIds.length,
    lostIds,
    preKillAcks: log.acks.filter((a) => a.ts <= killedAtS).length,
    errors,
    firstAckPort: first === undefined ? undefined : present.get(first.id),
  };
}

export interface CaseSummary {
  readonly trials: number;
  readonly ok: number;
  readonly medianS: number;
  readonly minS: number;
  readonly maxS: number;
  readonly lost: number;
}

/** Median (min-max) RTO over the trials that failed over, and lost writes summed over all of them. */
export function summarize(trials: readonly { rtoS?: number | undefined; lost?: number | undefined }[]): CaseSummary {
  const rtos = trials.flatMap((t) => (t.rtoS === undefined ? [] : [t.rtoS]));
  return {
    trials: trials.length,
    ok: rtos.length,
    medianS: median(rtos),
    minS: rtos.length ? Math.min(...rtos) : Number.NaN,
    maxS: rtos.length ? Math.max(...rtos) : Number.NaN,
    lost: trials.reduce((n, t) => n + (t.lost ?? 0), 0),
  };
}

/** "9.82 (9.80-10.51)", or "n/a" when no trial failed over. */
export function formatRto(s: CaseSummary): string {
  if (s.ok === 0) return 'n/a';
  return `${s.medianS.toFixed(2)} (${s.minS.toFixed(2)}-${s.maxS.toFixed(2)})${s.ok < s.trials ? ` ${s.ok}/${s.trials} ok` : ''}`;
}

/** "1-3,7" for a sorted id list, at most `max` ranges. */
export function idRanges(ids: readonly number[], max = 4): string {
  const ranges: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j += 1;
    ranges.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return ranges.length > max ? `${ranges.slice(0, max).join(',')},...` : ranges.join(',') || '-';
}
