// Calls to the datakeep API with the session's bearer token. The token lives in sessionStorage (gone when the tab
// closes) and travels only in the Authorization header: never in a URL, where history and access logs would keep it.

const TOKEN_KEY = 'datakeep.token';
/** Every request has a limit: a hung service shows an error instead of a panel that loads forever. */
const REQUEST_TIMEOUT_MS = 20_000;
/** A job's event stream is closed after this long without any event (the service sends keep-alives). */
const STREAM_IDLE_MS = 60_000;

/** A refusal or failure of the API, with the service's code and message ({error: {code, message}}). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

let unauthorized = () => {};
/** Called when any request answers 401 (token revoked or wrong): the app returns to the login form. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${session.token ?? ''}`, ...extra };
}

async function errorOf(response) {
  const text = await response.text().catch(() => '');
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = body && typeof body === 'object' ? body.error : undefined;
  const apiError = new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (text.trim() || `${response.status} ${response.statusText}`));
  if (response.status === 401) unauthorized(apiError);
  return apiError;
}

/** One JSON request; resolves to the parsed body, rejects with ApiError. */
export async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers({ Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const timedOut = error?.name === 'TimeoutError';
    throw new ApiError(0, timedOut ? 'TIMEOUT' : 'NETWORK', timedOut ? `${method} ${path} got no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : `the service did not answer ${method} ${path} (${error?.message ?? error})`);
  }
  if (!response.ok) throw await errorOf(response);
  const text = await response.text();
  return text ? JSON.parse(text) : undefined;
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);

/**
 * The events of a server-sent event stream, read with fetch() because EventSource cannot send an Authorization
 * header. Yields {type, data} (data parsed as JSON when it is JSON). Ends when the service closes the stream, when
 * `signal` aborts, or after STREAM_IDLE_MS without a byte.
 */
export async function* streamEvents(path, signal) {
  const idle = new AbortController();
  const stop = () => idle.abort();
  signal?.addEventListener('abort', stop, { once: true });
  let timer = setTimeout(stop, STREAM_IDLE_MS);
  try {
    const response = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal: idle.signal });
    if (!response.ok) throw await errorOf(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      clearTimeout(timer);
      timer = setTimeout(stop, STREAM_IDLE_MS);
      buffer = (buffer + value).replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
      }
    }
  } catch (error) {
    // An abort is how a stream is meant to end here (job done, logout, idle); anything else is the caller's to show.
    if (error?.name !== 'AbortError') throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
    idle.abort();
  }
}

/** One SSE block ("event: x\ndata: {...}"); comments (keep-alives) and blocks without data give undefined. */
function parseEvent(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  const text = data.join('\n');
  try {
    return { type, data: JSON.parse(text) };
  } catch {
    return { type, data: text };
  }
}
