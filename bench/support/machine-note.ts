import os from 'node:os';

/**
 * One line describing where the figures came from. The load average is the part that matters on a shared machine:
 * figures taken at load 3 on 2 cores are not comparable to figures taken idle, only ratios from the same run are.
 */
export function machineNote(extra: readonly string[] = []): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  return [
    `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `${os.platform()} ${os.release()}`,
    `node ${process.version}`,
    ...extra,
    `load avg ${load}`,
  ].join(', ');
}
