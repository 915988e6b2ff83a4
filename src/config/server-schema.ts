import { resolve as resolvePath } from 'node:path';
import { integer, nonEmptyText, object } from './config-fields.js';

/** The `server` section: where `datakeep serve` listens, its TLS files, how long a shutdown waits for jobs, request pacing. */
export interface ServerSection {
  /** Interface to bind (default 127.0.0.1: the service is reachable from this machine only unless configured). */
  host?: string;
  /** TCP port (default 7400). */
  port?: number;
  /** PEM files; with both, the service speaks HTTPS only. */
  tls?: { cert: string; key: string };
  /** Seconds a shutdown waits for running jobs before recording them as interrupted (default 30). */
  shutdownTimeout?: number;
  /** API, metrics and dashboard requests answered per second; more wait their turn (default 100; 0: unpaced). */
  requestsPerSecond?: number;
  /** `/livez` and `/readyz` requests answered per second, paced apart from the API so that probes never queue behind it (default 50; 0: unpaced). */
  probesPerSecond?: number;
  /** Seconds a request may wait for its turn; one that would wait longer is refused with 503 and Retry-After (default 10). */
  maxRequestWait?: number;
}

export interface ResolvedServerSection {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  readonly shutdownTimeoutMs: number;
  readonly pace: {
    readonly requests: { readonly perSecond: number; readonly maxWaitMs: number };
    readonly probes: { readonly perSecond: number; readonly maxWaitMs: number };
  };
}

export const DEFAULT_SERVER_HOST = '127.0.0.1';
export const DEFAULT_SERVER_PORT = 7400;

const TLS_FIX = 'Write "tls": {"cert": "./server.crt", "key": "./server.key"} (PEM files), or remove it for plain HTTP';

/** The schema of the `server` section; TLS paths are resolved against `cwd`. */
export function serverSchema(cwd: string) {
  return object(
    {
      host: nonEmptyText('Give an interface address, e.g. "127.0.0.1" (this machine only) or "0.0.0.0" (every interface)').optional(),
      port: integer(1, 65535).optional(),
      tls: object({ cert: nonEmptyText(TLS_FIX), key: nonEmptyText(TLS_FIX) }, TLS_FIX).optional(),
      shutdownTimeout: integer(0, 3600, ' (seconds)').optional(),
      requestsPerSecond: integer(0, 1_000_000, ' (requests per second; 0 turns pacing off)').optional(),
      probesPerSecond: integer(0, 1_000_000, ' (requests per second; 0 turns pacing off)').optional(),
      maxRequestWait: integer(1, 3600, ' (seconds)').optional(),
    },
    'Write "server": {"host": "127.0.0.1", "port": 7400}',
  )
    .prefault({})
    .transform((s): ResolvedServerSection => ({
      host: s.host ?? DEFAULT_SERVER_HOST,
      port: s.port ?? DEFAULT_SERVER_PORT,
      tls: s.tls ? { cert: resolvePath(cwd, s.tls.cert), key: resolvePath(cwd, s.tls.key) } : undefined,
      shutdownTimeoutMs: (s.shutdownTimeout ?? 30) * 1000,
      pace: {
        requests: { perSecond: s.requestsPerSecond ?? 100, maxWaitMs: (s.maxRequestWait ?? 10) * 1000 },
        probes: { perSecond: s.probesPerSecond ?? 50, maxWaitMs: (s.maxRequestWait ?? 10) * 1000 },
      },
    }));
}
