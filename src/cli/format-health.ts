import type { HealthStatus } from '../adapters/health-status.js';

/** One human-readable line per database. */
export function formatHealth(status: HealthStatus): string {
  const parts = [`${status.adapterId}: ${status.status} (${status.latency} ms)`];
  if (status.serverVersion) parts.push(`version ${status.serverVersion}`);
  if (status.inRecovery !== undefined) parts.push(status.inRecovery ? 'in recovery' : 'primary');
  if (status.pool) parts.push(`pool ${status.pool.total} total/${status.pool.idle} idle/${status.pool.waiting} waiting`);
  if (status.reasons.length) parts.push(`: ${status.reasons.join('; ')}`);
  return parts.join(', ').replace(', :', ':');
}
