import { ConfigurationError } from '../errors/index.js';
import { findEngineByScheme, ENGINES } from '../engines/engine-registry.js';
import type { DatabaseConfig, DatabaseType } from './database-config.js';

const SCHEME_LIST = ENGINES.flatMap((e) => e.urlSchemes.map((s) => (e.config.url?.opaque ? `${s}PATH` : `${s}//`))).join(', ');

/**
 * Splits a connection URL into DatabaseConfig fields. The password is URL-decoded; the caller keeps it non-enumerable.
 * What differs per engine (opaque URLs, host lists, TLS schemes) comes from the engine's URL hooks.
 */
export function parseDatabaseUrl(url: string, field: string): DatabaseConfig & { type: DatabaseType } {
  const schemeMatch = /^([a-z][a-z0-9+.-]*:)/i.exec(url);
  const engine = schemeMatch ? findEngineByScheme(schemeMatch[1]!) : undefined;
  if (!schemeMatch || !engine) {
    const shown = schemeMatch ? `scheme "${schemeMatch[1]}"` : 'a value without a scheme';
    throw new ConfigurationError(field, `${shown} is not a database URL`, `Use one of: ${SCHEME_LIST}`);
  }
  const scheme = schemeMatch[1]!.toLowerCase();
  const hooks = engine.config.url;
  if (hooks?.opaque) return { ...hooks.opaque(url.slice(scheme.length)), type: engine.type };
  let hostPart = url.slice(scheme.length);
  if (!hostPart.startsWith('//')) {
    throw new ConfigurationError(field, 'is missing "//" after the scheme', `Write it as ${schemeMatch[1]}//user:password@host:port/database`);
  }
  hostPart = hostPart.slice(2);
  if (hooks?.hostList && /^[^/?#]*,/.test(hostPart)) {
    // Several hosts: replace the host list by its first host so that URL can parse the rest.
    const at = hostPart.lastIndexOf('@', hostPart.search(/[/?#]|$/));
    const authority = hostPart.slice(0, hostPart.search(/[/?#]|$/));
    const hosts = (at >= 0 ? authority.slice(at + 1) : authority).split(',');
    hostPart = (at >= 0 ? authority.slice(0, at + 1) : '') + hosts[0] + hostPart.slice(authority.length);
  }
  let parsed: URL;
  try {
    parsed = new URL(`db://${hostPart}`);
  } catch (cause) {
    throw new ConfigurationError(field, 'is not a valid URL', 'Check for unescaped characters; percent-encode "@", ":" and "/" in the password', { cause });
  }
  const out: DatabaseConfig & { type: DatabaseType } = { type: engine.type, url };
  if (parsed.hostname) out.host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (parsed.port) out.port = Number(parsed.port);
  if (parsed.username) out.username = decodeURIComponent(parsed.username);
  if (parsed.password) out.password = decodeURIComponent(parsed.password);
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (path) out.database = path;
  if (hooks?.tlsSchemes?.includes(scheme)) out.ssl = true;
  const params = parsed.searchParams;
  const sslmode = params.get('sslmode') ?? (params.get('ssl') === 'true' || params.get('tls') === 'true' ? 'verify-full' : null);
  if (sslmode) {
    if (sslmode === 'disable') out.ssl = false;
    else if (sslmode === 'require' || sslmode === 'prefer' || sslmode === 'allow' || sslmode === 'no-verify') out.ssl = { rejectUnauthorized: false };
    else if (sslmode === 'verify-ca' || sslmode === 'verify-full') out.ssl = true;
    else throw new ConfigurationError(`${field} sslmode`, `"${sslmode}" is not a known sslmode`, 'Use disable, require, verify-ca or verify-full');
  }
  const app = params.get('application_name');
  if (app) out.applicationName = app;
  const connectTimeout = params.get('connect_timeout');
  if (connectTimeout) {
    const seconds = Number(connectTimeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new ConfigurationError(`${field} connect_timeout`, `"${connectTimeout}" is not a positive number of seconds`, 'Use e.g. connect_timeout=10');
    }
    out.timeout = Math.round(seconds * 1000);
  }
  return out;
}
