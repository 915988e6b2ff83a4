// Jobs: the service's long operations (backups, verifies, restores, drills). The list refreshes with the page; the job
// being followed has a live progress line fed by its server-sent events, read through fetch() (see api.js).
import { streamEvents } from './api.js';
import { el, fmtBytes, fmtTime, stateBadge, table } from './dom.js';

const FINISHED = /^(succeeded|failed|cancelled|canceled|interrupted|done|completed|error)$/i;

let line;
let following;

/** Follows a job's events on the live line, replacing the job followed before. */
export function follow(ctx, jobId) {
  following?.controller.abort();
  const controller = new AbortController();
  following = { jobId, controller };
  show(`job ${jobId}: waiting for its first event…`);
  (async () => {
    try {
      for await (const event of streamEvents(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`, controller.signal)) {
        show(`job ${jobId}: ${describe(event)}`);
        if (isFinished(event)) break;
      }
    } catch (error) {
      show(`job ${jobId}: its event stream failed: ${error.message}`, 'error');
    }
    // Aborted from outside: another job is followed now, or the user logged out; nothing more to show.
    if (controller.signal.aborted) return;
    controller.abort();
    following = undefined;
    ctx.refresh();
  })();
}

/** Stops following (logout). */
export function stopFollowing() {
  following?.controller.abort();
  following = undefined;
}

function show(text, kind) {
  if (!line) return;
  line.textContent = text;
  line.className = `live-line${kind ? ` ${kind}` : ''}`;
}

function isFinished(event) {
  const d = event.data ?? {};
  return /^(end|done|finished|result|error|failed|succeeded)$/i.test(event.type) || FINISHED.test(String(d.state ?? d.status ?? ''));
}

/** One event as a line: the state, the phase, and how far (bytes, files, WAL wait) as far as the event tells. */
export function describe(event) {
  const d = event.data;
  if (d === null || typeof d !== 'object') return `${event.type}: ${d}`;
  // The last event carries the whole job: say how it ended and what came of it.
  if (d.id && (d.status ?? d.state) && FINISHED.test(String(d.status ?? d.state))) {
    const outcome = summary(d);
    return `${d.status ?? d.state}${outcome ? ` · ${typeof outcome === 'string' ? outcome : outcome.textContent}` : ''}`;
  }
  const p = d.progress && typeof d.progress === 'object' ? d.progress : d;
  const parts = [];
  const state = d.status ?? d.state;
  if (state) parts.push(String(state));
  else if (!/^(message|progress)$/.test(event.type)) parts.push(event.type);
  if (d.database ?? p.database) parts.push(String(d.database ?? p.database));
  if (p.phase) parts.push(String(p.phase));
  if (p.bytesTotal > 0) parts.push(`${Math.min(100, Math.round((p.bytesDone / p.bytesTotal) * 100))} % (${fmtBytes(p.bytesDone)} of ${fmtBytes(p.bytesTotal)})`);
  if (p.filesTotal > 0) parts.push(`${p.filesDone}/${p.filesTotal} files`);
  if (p.walWaiting) parts.push(`waiting ${p.walWaiting.seconds} s for WAL ${p.walWaiting.segment}`);
  const error = d.error?.message ?? (typeof d.error === 'string' ? d.error : undefined);
  if (error) parts.push(error);
  if (typeof d.message === 'string') parts.push(d.message);
  return parts.length ? parts.join(' · ') : JSON.stringify(d);
}

export const jobsPanel = {
  id: 'jobs',
  title: 'Jobs',
  actions() {
    line = el('p', { id: 'job-live', class: 'live-line muted', text: 'No job followed: start one, or press Follow on a running job.' });
    return line;
  },
  async load(ctx) {
    const answer = await ctx.get('/api/v1/jobs');
    const jobs = [...(Array.isArray(answer) ? answer : (answer?.jobs ?? []))]
      .sort((a, b) => String(b.createdAt ?? b.startedAt ?? '').localeCompare(String(a.createdAt ?? a.startedAt ?? '')));
    // A job still running when the page loads gets followed, so the live line is live without a click.
    const running = jobs.find((j) => !FINISHED.test(String(j.status ?? j.state ?? '')));
    if (running && !following) follow(ctx, running.id);
    return table([
      { label: 'job', value: (j) => el('code', { text: j.id }) },
      { label: 'kind', value: (j) => j.kind ?? j.type },
      { label: 'target', value: (j) => j.target },
      { label: 'state', value: (j) => stateBadge(j.status ?? j.state) },
      { label: 'by', value: (j) => j.actor ?? j.createdBy ?? j.by },
      { label: 'started', value: (j) => fmtTime(j.startedAt ?? j.createdAt) },
      { label: 'finished', value: (j) => fmtTime(j.finishedAt) },
      { label: 'progress / result', value: (j) => summary(j) },
      { label: '', value: (j) => (FINISHED.test(String(j.status ?? j.state ?? '')) ? undefined : followButton(ctx, j.id)) },
    ], jobs.slice(0, 20), 'no jobs yet');
  },
};

function summary(job) {
  if (job.error) return el('span', { class: 'error', text: job.error.message ?? String(job.error) });
  const result = job.result;
  if (result?.backupId) return `backup ${result.backupId}`;
  if (result && typeof result.ok === 'boolean') return result.ok ? 'verified: no problem found' : `problems: ${(result.problems ?? []).length}`;
  if (result?.to) return `restored into ${result.to}`;
  if (job.progress && FINISHED.test(String(job.status ?? job.state ?? '')) === false) return describe({ type: 'progress', data: { progress: job.progress } });
  return undefined;
}

function followButton(ctx, jobId) {
  return el('button', { type: 'button', class: 'small', text: 'Follow', onclick: () => follow(ctx, jobId) });
}
