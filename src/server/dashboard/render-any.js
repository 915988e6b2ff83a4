// Renders an API answer whose shape the dashboard does not know in detail (lifecycle, replication, migrations, audit
// and whatever those sections grow): objects as facts, lists of objects as tables, nested lists as sub-tables. It shows
// what the service says, field by field, so a new field appears without a dashboard change.
import { el, facts, fmtTime, notConfigured, stateBadge, table } from './dom.js';

const MAX_COLUMNS = 9;
const STATE_KEYS = new Set(['status', 'state', 'outcome', 'health', 'role', 'ok', 'valid', 'healthy']);

/** True for the answers of a section the service has not set up: {configured: false} or {available: false}. */
export function isNotConfigured(data) {
  return Boolean(data) && typeof data === 'object' && !Array.isArray(data) && (data.configured === false || data.available === false);
}

export function renderAny(data, empty = 'none') {
  if (isNotConfigured(data)) return notConfigured(data.reason ?? data.message, data.configured === false ? 'not configured' : 'not available');
  if (data === undefined || data === null) return el('p', { class: 'muted empty', text: empty });
  if (Array.isArray(data)) return renderList(data, empty);
  if (typeof data === 'object') return renderObject(data);
  return el('p', { text: String(data) });
}

function renderList(rows, empty) {
  if (rows.length === 0 || rows.every((r) => r === null || typeof r !== 'object')) {
    return rows.length === 0 ? el('p', { class: 'muted empty', text: empty }) : el('p', { text: rows.join(', ') });
  }
  const keys = [];
  for (const row of rows.slice(0, 20)) {
    for (const key of Object.keys(row)) if (!keys.includes(key)) keys.push(key);
  }
  const columns = keys.slice(0, MAX_COLUMNS).map((key) => ({ label: humanize(key), value: (row) => value(key, row[key]) }));
  return table(columns, rows, empty);
}

function renderObject(object) {
  const scalars = [];
  const nested = [];
  for (const [key, v] of Object.entries(object)) {
    if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) nested.push([key, v]);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 4) nested.push([key, v]);
    else scalars.push([humanize(key), value(key, v)]);
  }
  return el('div', {},
    scalars.length ? facts(scalars) : null,
    nested.map(([key, v]) => el('div', { class: 'nested' }, el('h3', { text: humanize(key) }), renderAny(v))),
  );
}

/** One field as a cell: states as badges, instants as times, small objects as `key=value` text. */
function value(key, v) {
  if (v === undefined || v === null) return undefined;
  if (STATE_KEYS.has(key) && (typeof v === 'string' || typeof v === 'boolean')) return stateBadge(v);
  if (typeof v === 'string' && /(At|Time|time|^at|Run)$/.test(key) && !Number.isNaN(Date.parse(v))) return fmtTime(v);
  if (Array.isArray(v)) return v.map((x) => (x !== null && typeof x === 'object' ? compact(x) : String(x))).join(', ');
  if (typeof v === 'object') return compact(v);
  return String(v);
}

function compact(object) {
  return Object.entries(object)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${v !== null && typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}

/** "lastRunAt" -> "last run at", "wal_archive" -> "wal archive". */
export function humanize(key) {
  return String(key).replace(/_/g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}
