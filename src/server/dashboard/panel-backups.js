// Backups: the list with its actions (run a backup: operator; verify: operator; restore: admin) and the recoverability
// windows. Buttons are shown to every role: the service decides, and its refusal (403) is shown as it words it.
import { el, fmtBytes, fmtSeconds, fmtTime, notConfigured, stateBadge, table } from './dom.js';
import { isNotConfigured } from './render-any.js';

/** The choices of the action forms, refilled on every refresh (keeping what the user chose). */
let restoreChoice;
let databaseChoice;

function backupsOf(answer) {
  return Array.isArray(answer) ? answer : (answer?.backups ?? []);
}

export const backupsPanel = {
  id: 'backups',
  title: 'Backups',
  actions(ctx) {
    const type = el('select', { name: 'type', 'aria-label': 'backup type' }, ['full', 'incremental', 'differential'].map((t) => el('option', { value: t, text: t })));
    databaseChoice = el('select', { id: 'backup-database', name: 'database', 'aria-label': 'database to back up' }, el('option', { value: '', text: 'every database' }));
    const run = el('button', { type: 'button', id: 'run-backup', text: 'Run backup', title: 'needs the operator role' });
    run.addEventListener('click', () => ctx.act('backups', 'Backup', () => ctx.post('/api/v1/backups', { type: type.value, ...(databaseChoice.value ? { database: databaseChoice.value } : {}) })));

    restoreChoice = el('select', { id: 'restore-backup', name: 'backup', 'aria-label': 'backup to restore' });
    const to = el('input', { id: 'restore-to', name: 'to', type: 'text', placeholder: '/new/empty/directory', required: true, spellcheck: 'false', size: 28 });
    const when = el('input', { id: 'restore-time', name: 'targetTime', type: 'text', placeholder: 'target time (optional)', spellcheck: 'false', size: 22, title: 'ISO 8601 with a zone, e.g. 2026-05-01T10:00:00Z' });
    const form = el('form', { id: 'restore-form', class: 'inline-form' },
      el('label', { for: 'restore-backup', text: 'Restore' }), restoreChoice,
      el('label', { for: 'restore-to', text: 'into' }), to, when,
      el('button', { type: 'submit', id: 'restore', text: 'Restore', title: 'needs the admin role' }),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const id = restoreChoice.value;
      if (!id) return ctx.message('backups', 'Choose a backup to restore (the list is empty until a backup completes).', 'error');
      const body = { to: to.value.trim(), ...(when.value.trim() ? { targetTime: when.value.trim() } : {}) };
      return ctx.act('backups', `Restore of ${id}`, () => ctx.post(`/api/v1/backups/${encodeURIComponent(id)}/restore`, body));
    });
    return el('div', { class: 'actions' }, el('div', { class: 'inline-form' }, type, databaseChoice, run), form);
  },
  async load(ctx) {
    // The database choice does not depend on the list: fill it even when listing fails (no repository yet).
    const databases = await ctx.get('/api/v1/databases').catch(() => undefined);
    if (databases) refill(databaseChoice, [{ value: '', text: 'every database' }, ...databases.map((d) => ({ value: d.id, text: d.id }))]);
    const answer = await ctx.get('/api/v1/backups');
    if (isNotConfigured(answer)) return notConfigured(answer.reason ?? 'no backup destination configured');
    const backups = [...backupsOf(answer)].sort((a, b) => String(b.finishedAt ?? '').localeCompare(String(a.finishedAt ?? '')));
    refill(restoreChoice, backups.map((b) => ({ value: b.backupId, text: `${b.backupId} (${b.database})` })));
    return table([
      { label: 'backup', value: (b) => el('code', { text: b.backupId }) },
      { label: 'database', value: (b) => b.database },
      { label: 'type', value: (b) => b.type },
      { label: 'finished', value: (b) => fmtTime(b.finishedAt) },
      { label: 'took', class: 'num', value: (b) => fmtSeconds((Date.parse(b.finishedAt) - Date.parse(b.startedAt)) / 1000) },
      { label: 'size', class: 'num', value: (b) => fmtBytes(b.sizeBytes) },
      { label: 'stored', class: 'num', value: (b) => fmtBytes(b.storedBytes) },
      { label: '', value: (b) => verifyButton(ctx, b.backupId) },
    ], backups, 'no backups yet');
  },
};

function verifyButton(ctx, backupId) {
  const button = el('button', { type: 'button', class: 'small', text: 'Verify', title: 'needs the operator role', 'data-backup': backupId });
  button.addEventListener('click', () => ctx.act('backups', `Verify of ${backupId}`, () => ctx.post(`/api/v1/backups/${encodeURIComponent(backupId)}/verify`)));
  return button;
}

/** Replaces a select's options, keeping the chosen one when it is still offered. */
function refill(select, options) {
  if (!select) return;
  const chosen = select.value;
  select.replaceChildren(...options.map((o) => el('option', { value: o.value, text: o.text })));
  if (options.some((o) => o.value === chosen)) select.value = chosen;
}

export const windowsPanel = {
  id: 'windows',
  title: 'Recoverability windows',
  async load({ get }) {
    const answer = await get('/api/v1/backups/window');
    if (isNotConfigured(answer)) return notConfigured(answer.reason ?? 'no backup destination configured');
    const windows = Array.isArray(answer) ? answer : (answer?.windows ?? []);
    const span = (w) => (w.from?.time && w.to?.time ? fmtSeconds((Date.parse(w.to.time) - Date.parse(w.from.time)) / 1000) : undefined);
    return table([
      { label: 'database', value: (w) => w.database },
      { label: 'from', value: (w) => fmtTime(w.from?.time) },
      { label: 'to', value: (w) => fmtTime(w.to?.time) },
      { label: 'span', class: 'num', value: span },
      { label: 'timeline', class: 'num', value: (w) => w.timeline },
      { label: 'backups', class: 'num', value: (w) => w.backups },
      // The archive's unbroken run ends at to.segment: a restore replays no further (firstMissingWal comes next).
      { label: 'WAL archived to', value: (w) => (w.to ? el('code', { title: `LSN ${w.to.lsn}`, text: w.to.segment }) : stateBadge('empty')) },
    ], windows, 'no recoverability window: take a backup first');
  },
};
