/**
 * Issue 12: failover under write load, datakeep side by side with Patroni 3.0.2 + etcd (../shared/anchors/
 * anchor-failover.sh, run as a child process with the same repeats and cases). Both sides follow the anchor's
 * protocol: a fresh 3-member PostgreSQL 15 cluster per trial, a writer INSERTing a new id every ~10 ms, SIGKILL of
 * the primary's postmaster and its children after 3 s plus a random phase, then
 *   RTO  = kill -> first acknowledged INSERT on the new primary
 *   lost = acknowledged ids missing on the new primary.
 * Patroni's agent on the killed member dies with it (the anchor kills it too), so Patroni waits for its leader key to
 * expire (ttl); datakeep's two watchers run apart from the members and survive the kill, so datakeep waits for
 * failoverTimeout of failed checks of the primary.
 *
 *   node --import tsx bench/failover.ts [--repeats=5] [--cases=async-aggressive,sync-aggressive] [--sides=patroni,datakeep]
 *
 * Needs root (the anchor, servers run as postgres), `patroni` and `etcd`; loopback only. Goals
 * (../shared/BENCHMARKS.md): RTO <= 5 s; no acknowledged write lost in sync mode. Exits non-zero only when something
 * fails, never because of a figure.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BenchOptions } from './support/bench-options.js';
import { datakeepFailoverTrial, type DatakeepTrial } from './support/datakeep-failover-trial.js';
import { formatRto, idRanges, summarize, type CaseSummary } from './support/failover-figures.js';
import { formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import { runPatroniAnchor, type AnchorTrial } from './support/patroni-anchor.js';

const CASES = ['async-default', 'async-aggressive', 'sync-default', 'sync-aggressive'] as const;
type Case = (typeof CASES)[number];
/**
 * datakeep's settings per anchor case. Aggressive: Patroni detects in ttl 10 s with retries of 3 s; datakeep fails
 * over after 3 s of failed checks. Default: the seed's failoverTimeout default (30 s, as Patroni's ttl 30) and the
 * authority's default lease. `phaseS` is the anchor's loop_wait, the range of its random phase before the kill.
 */
const SETTINGS: Record<Case, { failoverTimeout: number; leaseTtl: number; phaseS: number }> = {
  'async-default': { failoverTimeout: 30_000, leaseTtl: 10_000, phaseS: 10 },
  'sync-default': { failoverTimeout: 30_000, leaseTtl: 10_000, phaseS: 10 },
  'async-aggressive': { failoverTimeout: 3000, leaseTtl: 10_000, phaseS: 2 },
  'sync-aggressive': { failoverTimeout: 3000, leaseTtl: 10_000, phaseS: 2 },
};

const options = new BenchOptions();
const REPEATS = options.int({ flag: 'repeats', env: 'DK_BENCH_REPEATS', default: 5, help: 'kills per case and side' });
const cases = options.list({ flag: 'cases', env: 'DK_BENCH_CASES', default: ['async-aggressive', 'sync-aggressive'], allowed: CASES, help: 'anchor cases (sync-* use synchronous replication)' });
const sides = options.list({ flag: 'sides', env: 'DK_BENCH_SIDES', default: ['patroni', 'datakeep'], allowed: ['patroni', 'datakeep'] as const, help: 'which sides run' });
const anchor = options.string({ flag: 'anchor', env: 'DK_BENCH_ANCHOR', default: fileURLToPath(new URL('../../shared/anchors/anchor-failover.sh', import.meta.url)), help: 'the Patroni anchor script' });
const FAILOVER_TIMEOUT = options.int({ flag: 'failover-timeout', env: 'DK_BENCH_FAILOVER_TIMEOUT', default: 0, min: 0, help: 'datakeep failoverTimeout ms for every case (0: per case, 3000 aggressive)' });
const LEASE_TTL = options.int({ flag: 'lease-ttl', env: 'DK_BENCH_LEASE_TTL', default: 0, min: 0, help: 'datakeep etcd leaseTtl ms for every case (0: per case, 10000)' });
const KILL_HOLDER = options.int({ flag: 'kill-holder', env: 'DK_BENCH_KILL_HOLDER', default: 0, min: 0, help: '1: also SIGKILL the datakeep watcher holding the lease (its agent dies with the primary, as Patroni\'s in the anchor)' });
const BREAKER_RESET = options.int({ flag: 'breaker-reset', env: 'DK_BENCH_BREAKER_RESET', default: 0, min: 0, help: 'datakeep databases\' circuitBreaker.resetTimeout ms (0: the library default, 10000)' });
const SELF_CHECK = options.int({ flag: 'self-check', env: 'DK_BENCH_SELF_CHECK', default: 0, min: 0, help: '1: datakeep side without watchers or replication (harness check: every trial must end no-failover)' });
if (options.helpRequested) {
  console.log(`usage: node --import tsx bench/failover.ts [flags]\n${options.usage()}`);
  process.exit(0);
}
options.assertNoUnknownFlags();
if (process.getuid?.() !== 0) {
  console.error('bench/failover.ts runs as root: the anchor starts Patroni as postgres, and so do the datakeep members');
  process.exit(2);
}
if (sides.includes('patroni') && !existsSync(anchor)) {
  console.error(`no anchor script at ${anchor}; give --anchor=PATH or --sides=datakeep`);
  process.exit(2);
}

console.log(`failover benchmark: ${machineNote([`${REPEATS} kills per case and side`, `cases ${cases.join(', ')}`])}`);
const patroni = new Map<string, AnchorTrial[]>();
let anchorSummary: readonly string[] = [];
if (sides.includes('patroni')) {
  console.log(`\n== Patroni: bash ${anchor} ${REPEATS} ${cases.join(' ')}`);
  // The anchor's own bounds: 240 s bootstrap + 60 s catch-up + 3 ttl + 60 s failover wait per trial.
  const run = await runPatroniAnchor(anchor, REPEATS, cases, { timeoutMs: REPEATS * cases.length * 600_000, onLine: (l) => console.log(`  ${l}`) });
  for (const t of run.trials) patroni.set(t.case, [...(patroni.get(t.case) ?? []), t]);
  anchorSummary = run.summary;
}

const datakeep = new Map<string, DatakeepTrial[]>();
if (sides.includes('datakeep')) {
  console.log(`\n== datakeep${SELF_CHECK ? ' (self-check: no replication, every trial must end no-failover)' : ''}${KILL_HOLDER ? ' (the lease-holding watcher killed with the primary)' : ''}${BREAKER_RESET ? ` (circuitBreaker.resetTimeout ${BREAKER_RESET} ms)` : ''}`);
  for (const c of cases) {
    const settings = { ...SETTINGS[c], ...(FAILOVER_TIMEOUT ? { failoverTimeout: FAILOVER_TIMEOUT } : {}), ...(LEASE_TTL ? { leaseTtl: LEASE_TTL } : {}) };
    for (let rep = 1; rep <= REPEATS; rep += 1) {
      const trial = await datakeepFailoverTrial({ mode: c.startsWith('sync') ? 'sync' : 'async', ...settings, selfCheck: SELF_CHECK === 1, killHolder: KILL_HOLDER === 1, breakerResetMs: BREAKER_RESET });
      datakeep.set(c, [...(datakeep.get(c) ?? []), trial]);
      console.log(`  ${trialLine(c, rep, settings, trial)}`);
    }
  }
}

function trialLine(c: string, rep: number, settings: { failoverTimeout: number; leaseTtl: number }, t: DatakeepTrial): string {
  const parts = [c, String(rep), `failoverTimeout=${settings.failoverTimeout}`, `leaseTtl=${settings.leaseTtl}`, `boot_s=${t.bootS.toFixed(0)}`];
  if (t.failure) parts.push(t.failure);
  if (t.newPrimary) parts.push(`new=${t.newPrimary}`);
  if (t.rtoS !== undefined) parts.push(`rto_s=${t.rtoS.toFixed(3)}`);
  if (t.recordS !== undefined) parts.push(`record_s=${t.recordS.toFixed(3)}`);
  if (t.acked !== undefined) parts.push(`acked=${t.acked}`, `pre_kill_acks=${t.preKillAcks}`);
  if (t.lost !== undefined) parts.push(`lost=${t.lost}`, `lost_ids=${idRanges(t.lostIds ?? [])}`);
  if (t.firstAckPort !== undefined) parts.push(`first_ack_port=${t.firstAckPort}`);
  if (t.errors && Object.keys(t.errors).length > 0) parts.push(`errors=${Object.entries(t.errors).map(([k, v]) => `${k}:${v}`).join(',')}`);
  if (t.keptIn) parts.push(`logs=${t.keptIn}`);
  return parts.join(' ');
}

console.log('');
if (anchorSummary.length > 0) console.log(`anchor's summary:\n${anchorSummary.map((l) => `  ${l}`).join('\n')}\n`);
const rows = cases.map((c) => {
  const p: CaseSummary | undefined = patroni.has(c) ? summarize(patroni.get(c)!) : undefined;
  const d: CaseSummary | undefined = datakeep.has(c) ? summarize(datakeep.get(c)!) : undefined;
  const goal = d === undefined || d.ok === 0 ? '-' : d.medianS <= 5 && d.ok === d.trials && (c.startsWith('async') || d.lost === 0) ? 'met' : 'not met';
  return [
    c,
    p ? formatRto(p) : '-',
    d ? formatRto(d) : '-',
    p && d && p.ok > 0 && d.ok > 0 ? formatRatio(d.medianS / p.medianS) : '-',
    p ? String(p.lost) : '-',
    d ? String(d.lost) : '-',
    goal,
  ];
});
console.log(formatTable(['case', 'Patroni RTO s, median (min-max)', 'datakeep RTO s, median (min-max)', 'ratio datakeep/Patroni', 'Patroni lost', 'datakeep lost', 'goal <= 5 s, sync 0 lost'], rows, { markdown: true }));
console.log(`\nlost = acknowledged writes missing on the new primary, summed over the trials; load avg at the end: ${machineNote()}`);
