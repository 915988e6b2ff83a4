// Runs ../shared/anchors/anchor-failover.sh (Patroni 3.0.2 + etcd, three members) as a child process and reads its
// per-trial lines ("CASE REP killed=m2 new=1 ... rto_s=9.816 ... lost=0 ...", or "CASE REP bootstrap-failed") and its
// summary. Bounded: SIGTERM (the script's trap tears its cluster down) after `timeoutMs`, SIGKILL 60 s later.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface AnchorTrial {
  readonly case: string;
  readonly rep: number;
  readonly rtoS: number | undefined;
  readonly lost: number;
  /** The whole line as the script printed it. */
  readonly line: string;
}

export interface AnchorRun {
  readonly trials: readonly AnchorTrial[];
  readonly summary: readonly string[];
  readonly exitCode: number | null;
}

export async function runPatroniAnchor(script: string, repeats: number, cases: readonly string[], options: { timeoutMs: number; onLine?: (line: string) => void }): Promise<AnchorRun> {
  const child = spawn('bash', [script, String(repeats), ...cases], { stdio: ['ignore', 'pipe', 'pipe'] });
  const trials: AnchorTrial[] = [];
  const summary: string[] = [];
  let inSummary = false;
  const known = new Set(cases);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    options.onLine?.(line);
    if (line.startsWith('== summary')) inSummary = true;
    else if (inSummary) summary.push(line);
    const [name, rep] = line.split(' ');
    if (inSummary || name === undefined || !known.has(name) || !/^\d+$/.test(rep ?? '')) return;
    const field = (key: string) => new RegExp(`\\b${key}=([0-9.]+)`).exec(line)?.[1];
    const rto = field('rto_s');
    trials.push({ case: name, rep: Number(rep), rtoS: rto === undefined ? undefined : Number(rto), lost: Number(field('lost') ?? 0), line });
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    const term = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs + 60_000);
    child.once('close', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve(code);
    });
  });
  if (exitCode !== 0 && trials.length === 0) throw new Error(`${script} exited ${String(exitCode)} without a trial:\n${stderr}`);
  return { trials, summary, exitCode };
}
