// The database panels: health per database, latency, and the slowest statements per database (PgHero's view).
import { el, facts, fmtCount, fmtMs, notConfigured, pick, stateBadge, table } from './dom.js';
import { isNotConfigured } from './render-any.js';

const STATEMENTS_SHOWN = 10;

/** The health answer keyed by database id, whether the service sends an object keyed by id or a list. */
function healthById(health) {
  if (Array.isArray(health)) return new Map(health.map((h) => [h.adapterId ?? h.id, h]));
  if (health && typeof health === 'object') {
    const entries = health.databases && typeof health.databases === 'object' ? health.databases : health;
    return healthById(Array.isArray(entries) ? entries : Object.entries(entries).map(([id, h]) => ({ adapterId: id, ...h })));
  }
  return new Map();
}

function statusOf(db, health) {
  if (health?.status) return health.status;
  if (db.status) return db.status;
  if (typeof db.healthy === 'boolean') return db.healthy ? 'healthy' : 'unhealthy';
  return 'unknown';
}

function poolText(db, health) {
  const pool = db.pool ?? health?.pool ?? db.metrics?.connections;
  if (!pool) return undefined;
  const parts = [];
  if (pool.active !== undefined) parts.push(`${pool.active} active`);
  if (pool.idle !== undefined) parts.push(`${pool.idle} idle`);
  if (pool.waiting !== undefined) parts.push(`${pool.waiting} waiting`);
  const total = pool.total ?? pool.size;
  if (total !== undefined) parts.push(`${total}${pool.max !== undefined ? `/${pool.max}` : ''} open`);
  return parts.join(', ');
}

export const databasesPanel = {
  id: 'databases',
  title: 'Databases and health',
  async load({ get }) {
    const [databases, health] = await Promise.all([get('/api/v1/databases'), get('/api/v1/health').catch(() => undefined)]);
    const byId = healthById(health);
    return table([
      { label: 'database', value: (d) => el('strong', { text: d.id }) },
      { label: 'engine', value: (d) => d.type },
      { label: 'status', value: (d) => stateBadge(statusOf(d, byId.get(d.id))) },
      { label: 'probe', class: 'num', value: (d) => fmtMs(pick(d, 'latencyMs') ?? byId.get(d.id)?.latency) },
      { label: 'connections', value: (d) => poolText(d, byId.get(d.id)) },
      { label: 'circuit', value: (d) => d.metrics?.circuit?.state },
      { label: 'server', value: (d) => pick(byId.get(d.id), 'serverVersion') ?? d.serverVersion },
      { label: 'why not healthy', value: (d) => whyNot(byId.get(d.id)) },
    ], databases, 'no databases configured');
  },
};

function whyNot(health) {
  if (!health) return undefined;
  const reasons = [...(health.reasons ?? [])];
  if (health.error?.message) reasons.push(`${health.error.code ? `${health.error.code}: ` : ''}${health.error.message}`);
  return reasons.join('; ');
}

/** A horizontal bar of `value` against `max` (width set through the CSSOM, which a strict CSP allows). */
function bar(value, max) {
  const outer = el('span', { class: 'bar' });
  const inner = el('span', { class: 'bar-fill' });
  inner.style.width = `${max > 0 && value > 0 ? Math.max(2, Math.round((value / max) * 100)) : 0}%`;
  outer.append(inner);
  return el('span', { class: 'bar-cell' }, outer, el('span', { class: 'num', text: fmtMs(value) ?? '–' }));
}

export const latencyPanel = {
  id: 'latency',
  title: 'Latency',
  async load({ get }) {
    const databases = await get('/api/v1/databases');
    const latency = (d) => d.metrics?.queries?.latency ?? {};
    const max = Math.max(0, ...databases.flatMap((d) => [latency(d).p50, latency(d).p95, latency(d).p99, d.latencyMs].filter((v) => typeof v === 'number')));
    return el('div', {},
      el('p', { class: 'muted', text: 'Probe: the last health check round trip. Percentiles: statements run through datakeep, over the recent window.' }),
      table([
        { label: 'database', value: (d) => d.id },
        { label: 'probe', value: (d) => bar(d.latencyMs, max) },
        { label: 'p50', value: (d) => bar(latency(d).p50, max) },
        { label: 'p95', value: (d) => bar(latency(d).p95, max) },
        { label: 'p99', value: (d) => bar(latency(d).p99, max) },
        { label: 'samples', class: 'num', value: (d) => fmtCount(latency(d).samples) },
        { label: 'statements', class: 'num', value: (d) => fmtCount(d.metrics?.queries?.total) },
        { label: 'failed', class: 'num', value: (d) => fmtCount(d.metrics?.queries?.failed) },
      ], databases, 'no databases configured'),
    );
  },
};

/** The list of statements in an answer: the answer itself or its `statements`/`rows` field. */
function statementsOf(answer) {
  if (Array.isArray(answer)) return answer;
  return answer?.statements ?? answer?.rows ?? [];
}

export const statementsPanel = {
  id: 'statements',
  title: `Slowest statements (top ${STATEMENTS_SHOWN} by total time)`,
  async load({ get }) {
    const databases = await get('/api/v1/databases');
    if (databases.length === 0) return notConfigured('no databases configured');
    const answers = await Promise.all(databases.map((d) => get(`/api/v1/statements?database=${encodeURIComponent(d.id)}&limit=${STATEMENTS_SHOWN}`).catch((error) => ({ failed: error }))));
    return el('div', {}, databases.map((d, i) => el('div', { class: 'nested', 'data-database': d.id }, el('h3', { text: d.id }), statementsView(answers[i]))));
  },
};

function statementsView(answer) {
  if (answer?.failed) return el('p', { class: 'error', text: answer.failed.message });
  if (isNotConfigured(answer)) return notConfigured(answer.reason ?? 'no statement statistics for this database', answer.configured === false ? 'not configured' : 'not available');
  const rows = statementsOf(answer);
  const meta = answer && !Array.isArray(answer) ? [['source', answer.source], ['since', answer.since ?? answer.statsReset]] : [];
  return el('div', {},
    meta.some(([, v]) => v !== undefined) ? facts(meta.filter(([, v]) => v !== undefined)) : null,
    table([
      { label: 'statement', class: 'query', value: (s) => el('code', { title: s.query, text: s.query }) },
      { label: 'calls', class: 'num', value: (s) => fmtCount(s.calls) },
      { label: 'mean', class: 'num', value: (s) => fmtMs(pick(s, 'meanMs', 'meanTimeMs', 'mean_exec_time', 'mean_time')) },
      { label: 'total', class: 'num', value: (s) => fmtMs(pick(s, 'totalMs', 'totalTimeMs', 'total_exec_time', 'total_time')) },
      { label: 'rows', class: 'num', value: (s) => fmtCount(s.rows) },
    ], rows, 'no statements recorded yet'),
  );
}
