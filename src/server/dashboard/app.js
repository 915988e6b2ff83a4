// The dashboard: a login form for an API token, then one panel per section of the service, refreshed every
// REFRESH_MS. Every value shown comes from the API; a panel that fails shows the service's error, the others carry on.
import { get as apiGet, onUnauthorized, post, request, session } from './api.js';
import { el } from './dom.js';
import { follow, stopFollowing } from './jobs.js';
import { PANELS } from './panels.js';

const REFRESH_MS = 10_000;
const $ = (id) => document.getElementById(id);

let timer;
/** The refresh under way, and the session it is for. */
let refreshing;
/** Counts logins and logouts: an answer for an earlier session (a slow whoami, a refresh) must not show in this one. */
let generation = 0;
/** 'out', 'entering' (whoami asked) or 'in': what a 401 means (a refused login, or a token revoked meanwhile). */
let phase = 'out';
const bodies = new Map();
const messages = new Map();

const ctx = {
  get: apiGet,
  post,
  refresh: () => refresh(),
  /** Shows a line under a panel's actions: kind is 'ok', 'error' or undefined. */
  message(panelId, text, kind) {
    const line = messages.get(panelId);
    if (!line) return;
    line.textContent = text;
    line.className = `panel-message${kind ? ` ${kind}` : ''}`;
    line.hidden = false;
  },
  /**
   * Runs an action (a POST) and says what came of it under the panel: the job it started (followed on the jobs
   * panel's live line), or the service's refusal in its own words (403 when the role is too low).
   */
  async act(panelId, label, run) {
    ctx.message(panelId, `${label}: asking the service…`);
    try {
      const answer = await run();
      const jobId = answer?.jobId ?? answer?.id;
      ctx.message(panelId, jobId ? `${label} started as job ${jobId}.` : `${label} done.`, 'ok');
      if (jobId) follow(ctx, jobId);
      refresh();
    } catch (error) {
      const refused = error.status === 403 ? 'refused (your role is too low)' : error.code === 'not_configured' ? 'not possible' : 'failed';
      ctx.message(panelId, `${label} ${refused}: ${error.message}${error.code ? ` [${error.code}]` : ''}`, 'error');
    }
  },
};

function buildPanels() {
  const container = $('panels');
  for (const panel of PANELS) {
    const body = el('div', { class: 'panel-body' }, el('p', { class: 'muted', text: 'loading…' }));
    const message = el('p', { class: 'panel-message', role: 'status', hidden: true });
    bodies.set(panel.id, body);
    messages.set(panel.id, message);
    container.append(el('section', { class: `panel panel-${panel.id}`, id: `panel-${panel.id}`, 'aria-labelledby': `title-${panel.id}` },
      el('h2', { id: `title-${panel.id}`, text: panel.title }),
      panel.actions ? panel.actions(ctx) : null,
      message,
      body,
    ));
  }
}

/** Reloads every panel. Answers are shared within one refresh (three panels read /api/v1/databases). */
function refresh() {
  if (refreshing?.generation === generation) return refreshing.done;
  const cache = new Map();
  const get = (path) => {
    if (!cache.has(path)) cache.set(path, apiGet(path));
    return cache.get(path);
  };
  const mine = generation;
  const done = Promise.all(PANELS.map(async (panel) => {
    const body = bodies.get(panel.id);
    try {
      const node = await panel.load({ ...ctx, get });
      // Logged out (or in as someone else) meanwhile: this answer belongs to the previous session.
      if (mine !== generation) return;
      body.replaceChildren(node);
      body.parentElement.classList.remove('failed');
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren(el('p', { class: 'error', text: `Could not load: ${error.message}${error.code ? ` [${error.code}]` : ''}` }));
      body.parentElement.classList.add('failed');
    }
  })).finally(() => {
    if (refreshing?.done !== done) return;
    refreshing = undefined;
    $('refreshed').textContent = `updated ${new Date().toLocaleTimeString()}`;
  });
  refreshing = { generation: mine, done };
  return done;
}

async function enter() {
  const mine = ++generation;
  phase = 'entering';
  const who = await request('GET', '/api/v1/whoami');
  if (mine !== generation) return;
  phase = 'in';
  $('who-name').textContent = who.name;
  $('who-role').textContent = who.role;
  $('login').hidden = true;
  $('who').hidden = false;
  $('panels').hidden = false;
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

function leave(reason) {
  generation += 1;
  phase = 'out';
  clearInterval(timer);
  // The next user must not see this session's data or messages, even for a moment.
  for (const body of bodies.values()) body.replaceChildren(el('p', { class: 'muted', text: 'loading…' }));
  for (const line of messages.values()) line.hidden = true;
  $('who-name').textContent = '';
  $('who-role').textContent = '';
  stopFollowing();
  session.clear();
  $('who').hidden = true;
  $('panels').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = reason ?? '';
  $('token').focus();
}

function start() {
  buildPanels();
  // Every panel of a refresh gets the 401 of a revoked token: the first one logs out, the others find it done.
  onUnauthorized((error) => {
    if (phase === 'in') leave(`Logged out: ${error.message}`);
    else if (phase === 'entering') leave(`Could not log in: ${error.message}`);
  });
  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('login-error').textContent = '';
    session.set($('token').value.trim());
    $('token').value = '';
    try {
      await enter();
    } catch (error) {
      // 401 already returned to the form through onUnauthorized; say the rest too (service down, timeout).
      if (error.status !== 401) leave(`Could not log in: ${error.message}`);
    }
  });
  $('logout').addEventListener('click', () => leave());
  $('refresh').addEventListener('click', () => refresh());
  // A reload keeps the tab's session; a 401 has already returned to the form through onUnauthorized.
  if (session.token) enter().catch((error) => error.status !== 401 && leave(`Could not reach the service: ${error.message}`));
  else leave();
}

start();
