// The dashboard's panels, in page order. A panel is {id, title, load(ctx) -> Node, actions?(ctx) -> Node}: load runs on
// every refresh and its node replaces the panel's body; actions are built once (forms keep what the user typed).
import { badge, el, fmtSeconds, fmtTime, notConfigured, stateBadge, table } from './dom.js';
import { backupsPanel, windowsPanel } from './panel-backups.js';
import { databasesPanel, latencyPanel, statementsPanel } from './panel-databases.js';
import { jobsPanel } from './jobs.js';
import { isNotConfigured, renderAny } from './render-any.js';

const schedulesPanel = {
  id: 'schedules',
  title: 'Schedules and last runs',
  async load({ get }) {
    const answer = await get('/api/v1/schedules');
    if (isNotConfigured(answer)) return notConfigured(answer.reason);
    const schedules = Array.isArray(answer) ? answer : (answer?.schedules ?? []);
    return table([
      { label: 'schedule', value: (s) => el('strong', { text: s.name }) },
      { label: 'kind', value: (s) => s.kind },
      { label: 'cron', value: (s) => el('span', {}, el('code', { text: s.cron }), s.timeZone && s.timeZone !== 'UTC' ? ` ${s.timeZone}` : '') },
      { label: 'next run', value: (s) => fmtTime(s.nextRun) },
      { label: 'last run', value: (s) => fmtTime(s.lastRun?.at) ?? 'never' },
      { label: 'outcome', value: (s) => (s.running ? stateBadge('running') : s.lastRun ? stateBadge(s.lastRun.outcome) : undefined) },
      { label: 'detail', value: (s) => s.lastRun?.error ?? s.lastRun?.message },
    ], schedules, 'no schedules configured');
  },
};

const transactionsPanel = {
  id: 'transactions',
  title: 'In-doubt transactions',
  async load({ get }) {
    const answer = await get('/api/v1/transactions');
    if (isNotConfigured(answer)) return notConfigured(answer.reason);
    const list = (Array.isArray(answer) ? answer : (answer?.transactions ?? [])).filter((t) => t.inDoubt !== false);
    return el('div', {},
      list.length ? el('p', { class: 'warn-text', text: `${list.length} transaction${list.length === 1 ? '' : 's'} in doubt: resolve with "datakeep tx resolve" (admin) once you know the outcome.` }) : null,
      table([
        { label: 'transaction', value: (t) => el('code', { text: t.globalId }) },
        { label: 'state', value: (t) => stateBadge(t.state) },
        { label: 'decision', value: (t) => t.decision },
        { label: 'age', class: 'num', value: (t) => fmtSeconds(t.ageSeconds) },
        { label: 'node', value: (t) => t.nodeId },
        { label: 'prepared branches', value: (t) => (t.prepared ?? []).map((p) => `${p.adapterId}: ${p.transactionId}`).join(', ') },
      ], list, 'no transaction in doubt'),
    );
  },
};

const validationPanel = {
  id: 'validation',
  title: 'Validation checks',
  async load({ get }) {
    const v = await get('/api/v1/validation');
    const checks = v.checks ?? [];
    const status = (c) => c.status ?? (c.ok === true ? 'ok' : c.ok === false ? 'failed' : undefined);
    return el('div', {},
      el('p', {}, v.valid ? badge('valid', 'ok') : badge('not valid', 'bad'), ` ${v.errors?.length ?? 0} errors, ${v.warnings?.length ?? 0} warnings`, v.checkedAt ? el('span', { class: 'muted' }, ' · checked ', fmtTime(v.checkedAt)) : null),
      table([
        { label: 'check', value: (c) => c.name },
        { label: 'status', value: (c) => stateBadge(status(c)) },
        { label: 'detail', value: (c) => c.detail ?? c.message },
      ], checks, 'no checks ran'),
      list('Errors', v.errors, 'error'),
      list('Warnings', v.warnings, 'warn-text'),
    );
  },
};

function list(title, items, className) {
  if (!items || items.length === 0) return null;
  return el('div', { class: 'nested' }, el('h3', { text: title }), el('ul', { class: className }, items.map((item) => el('li', { text: item }))));
}

/** A panel that shows its route's answer field by field (sections whose shapes still grow). */
function generic(id, title, path, empty) {
  return { id, title, load: async ({ get }) => renderAny(await get(path), empty) };
}

const auditPanel = {
  id: 'audit',
  title: 'Audit log (latest)',
  async load({ get }) {
    const answer = await get('/api/v1/audit');
    const entries = Array.isArray(answer) ? answer : (answer?.entries ?? []);
    // Newest first, and a page's worth: the full log is `datakeep audit`.
    const sorted = [...entries].sort((a, b) => String(b.at ?? b.time ?? '').localeCompare(String(a.at ?? a.time ?? ''))).slice(0, 15);
    return renderAny(sorted, 'no audit entries yet');
  },
};

export const PANELS = [
  databasesPanel,
  latencyPanel,
  validationPanel,
  backupsPanel,
  windowsPanel,
  schedulesPanel,
  jobsPanel,
  transactionsPanel,
  generic('lifecycle', 'Lifecycle', '/api/v1/lifecycle', 'no lifecycle policies'),
  generic('replication', 'Replication', '/api/v1/replication', 'no replication configured'),
  generic('migrations', 'Migrations', '/api/v1/migrations', 'no migrations'),
  statementsPanel,
  auditPanel,
];
