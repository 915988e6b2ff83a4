import { DatakeepError, TimeoutError } from '../errors/index.js';
import { withTimeout } from '../resilience/with-timeout.js';
import type { AdapterHooks } from './adapter-hooks.js';
import type { HealthStatus } from './health-status.js';

const SLOW_MS = 1000;

export interface HealthContext {
  readonly adapterId: string;
  readonly type: string;
  readonly timeoutMs: number;
  readonly connected: boolean;
  /** Throws the lifecycle error when the adapter is not connected. */
  assertConnected(): void;
}

/**
 * One health probe with everything around it that is the same for every engine: timing, a bound of `timeoutMs` (so
 * that health() answers even when the server hangs), the pool facts and the generic reasons (callers waiting, a slow
 * probe), and the status. This function _never_ throws: a failed probe is an `unhealthy` status carrying the error.
 */
export async function probeHealth(context: HealthContext, hooks: AdapterHooks): Promise<HealthStatus> {
  const checkedAt = new Date();
  const started = performance.now();
  const base = { adapterId: context.adapterId, type: context.type, checkedAt };
  try {
    context.assertConnected();
    const facts = await withTimeout(
      () => hooks.probe(),
      context.timeoutMs,
      () => new TimeoutError('operation', `${context.adapterId}: health probe got no reply within ${context.timeoutMs} ms`, { timeoutMs: context.timeoutMs }),
    );
    const latency = facts.latency ?? round2(performance.now() - started);
    const reasons = [...(facts.reasons ?? [])];
    const stats = hooks.connections();
    if (stats.waiting > 0) reasons.push(`${stats.waiting} callers waiting for a connection (${hooks.poolLabel ?? `pool of ${stats.max}`} exhausted)`);
    if (latency > SLOW_MS) reasons.push(`${facts.latencyLabel ?? 'probe'} took ${Math.round(latency)} ms`);
    return {
      ...base,
      ...(facts.serverVersion !== undefined ? { serverVersion: facts.serverVersion } : {}),
      ...(facts.inRecovery !== undefined ? { inRecovery: facts.inRecovery } : {}),
      ...(facts.details !== undefined ? { details: facts.details } : {}),
      latency,
      status: reasons.length ? 'degraded' : 'healthy',
      reasons,
      pool: { total: stats.total, idle: stats.idle, waiting: stats.waiting },
    };
  } catch (error) {
    const latency = round2(performance.now() - started);
    const err = error instanceof DatakeepError ? error : hooks.mapError(error);
    const stats = context.connected ? hooks.connections() : { total: 0, idle: 0, waiting: 0 };
    return { ...base, latency, status: 'unhealthy', reasons: [err.message], error: { code: err.code, message: err.message }, pool: { total: stats.total, idle: stats.idle, waiting: stats.waiting } };
  }
}

function round2(ms: number): number {
  return Math.round(ms * 100) / 100;
}
