import type { DatakeepError } from '../errors/index.js';
import type { HealthStatus } from './health-status.js';

/** Connections of one adapter right now, in the shape of `DatabaseMetrics.connections` (without failed attempts). */
export interface ConnectionStats {
  readonly active: number;
  readonly idle: number;
  readonly waiting: number;
  readonly total: number;
  readonly max: number;
}

/** What an engine's health probe found; the core adds timing, status, pool facts and the bound on waiting. */
export type HealthFacts = Partial<Pick<HealthStatus, 'serverVersion' | 'inRecovery' | 'details'>> & {
  /** Why the server is degraded, as the engine sees it. */
  readonly reasons?: readonly string[];
  /** The engine's own round trip (Redis: PING alone), when it is a better figure than the whole probe's time. */
  readonly latency?: number;
  /** What took the time, in the "slow" reason ("PING took 1200 ms"); default "probe". */
  readonly latencyLabel?: string;
};

/** What each engine supplies to the adapter core: its driver calls for opening, closing, probing, and its pool. */
export interface AdapterHooks {
  /** Opens the driver and proves one connection works (connect() calls it once, sharing the call). */
  open(): Promise<void>;
  shutdown(): Promise<void>;
  /** A health probe; may throw (the core turns that into an unhealthy status). */
  probe(): Promise<HealthFacts>;
  /** Callable at any time; zeros (with the configured max) when nothing is open. */
  connections(): ConnectionStats;
  /** Maps a driver error from a connection attempt. */
  mapConnectError(raw: unknown): DatakeepError;
  /** Maps a driver error from anything else (a probe). */
  mapError(raw: unknown): DatakeepError;
  /**
   * The password changed (a rotated passwordFile): new connections must use `config.password` (which reads the new
   * one), and connections made with the old one be replaced without failing work in flight: idle ones closed now,
   * ones in use closed when released. Called only while connected, one call at a time. Absent: the engine's
   * connections pick the new password up only when they reconnect.
   */
  rotateCredentials?(): Promise<void>;
  /** The server the adapter connects to now, for metrics(); absent when the engine does not say. */
  endpoint?(): string | undefined;
  /** Names the pool in "N callers waiting for a connection (pool of 10 exhausted)"; default "pool of <max>". */
  readonly poolLabel?: string;
  /** The bound on health(); default the configured connect timeout. */
  readonly healthTimeoutMs?: number;
}
