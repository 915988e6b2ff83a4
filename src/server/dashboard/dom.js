// Small DOM helpers. Every value from the API goes in as text (textContent), never as HTML: statement texts, backup
// ids and error messages are data, and must not be able to inject markup into the page.

/**
 * An element with attributes and children. `class`, `text` and `on<event>` are handled; other keys become attributes
 * (skipped when undefined or false). Children may be nodes, strings, numbers or nested arrays; null/undefined are left out.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** A coloured label: kind is ok, warn, bad or muted. */
export function badge(text, kind = 'muted') {
  return el('span', { class: `badge ${kind}`, text });
}

/** The badge for a health state or a check outcome. */
export function stateBadge(state) {
  const value = String(state ?? 'unknown');
  const kind = /^(healthy|ok|pass|passed|succeeded|success|completed|done|streaming|valid|true)$/i.test(value)
    ? 'ok'
    : /^(degraded|warn|warning|running|queued|pending|skipped|lagging)$/i.test(value)
      ? 'warn'
      : /^(unknown|never|-)$/i.test(value) ? 'muted' : 'bad';
  return badge(value, kind);
}

/**
 * A table. columns: [{label, value: (row) => text | Node, class?}]; rows: the API's objects. An empty list shows
 * `empty` instead, so that "nothing here" is visibly an answer and not a failure to load.
 */
export function table(columns, rows, empty = 'none') {
  if (!rows || rows.length === 0) return el('p', { class: 'muted empty', text: empty });
  return el('table', {},
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', { class: c.class, text: c.label })))),
    el('tbody', {}, rows.map((row) => el('tr', {}, columns.map((c) => el('td', { class: c.class }, cell(c.value(row))))))),
  );
}

function cell(value) {
  if (value instanceof Node) return value;
  if (value === undefined || value === null || value === '') return '–';
  return String(value);
}

/** A definition list of [label, value] pairs (values as in table cells). */
export function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== undefined).flatMap(([label, value]) => [el('dt', { text: label }), el('dd', {}, cell(value))]));
}

/** What a panel shows for a section the service has not set up (or cannot offer), with the service's reason. */
export function notConfigured(reason, label = 'not configured') {
  return el('p', { class: 'not-configured' }, badge(label), reason ? ` ${reason}` : '');
}

// ---- formatting ----------------------------------------------------------------------------------------------------

export function fmtMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return undefined;
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(ms >= 10 ? 1 : 2)} ms`;
}

export function fmtBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return undefined;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function fmtSeconds(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return undefined;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

/** An instant as local date and time with its distance from now ("3 min ago", "in 2 h"); the ISO value as tooltip. */
export function fmtTime(value) {
  if (value === undefined || value === null || value === '') return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const delta = (date.getTime() - Date.now()) / 1000;
  const relative = Math.abs(delta) < 5 ? 'now' : delta < 0 ? `${fmtSeconds(-delta)} ago` : `in ${fmtSeconds(delta)}`;
  const sameDay = date.toDateString() === new Date().toDateString();
  const clock = date.toLocaleString(undefined, sameDay ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return el('time', { datetime: date.toISOString(), title: date.toISOString(), text: `${clock} · ${relative}` });
}

/** A number with thousands separators. */
export function fmtCount(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : undefined;
}

/** The first of `keys` that the object has (the API's shapes name some figures differently per engine). */
export function pick(object, ...keys) {
  if (!object || typeof object !== 'object') return undefined;
  for (const key of keys) if (object[key] !== undefined && object[key] !== null) return object[key];
  return undefined;
}
