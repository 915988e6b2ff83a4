export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

/** The result of one health probe. `latency` is the probe's round trip in milliseconds (as the seed prints it). */
export interface HealthStatus {
  readonly adapterId: string;
  readonly type: string;
  readonly status: HealthState;
  readonly latency: number;
  readonly checkedAt: Date;
  /** Why the status is not healthy, when it is not. */
  readonly reasons: readonly string[];
  readonly serverVersion?: string;
  readonly inRecovery?: boolean;
  readonly pool?: { readonly total: number; readonly idle: number; readonly waiting: number };
  /** Engine-specific facts (role, memory, replication offsets, ...). */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly error?: { readonly code: string; readonly message: string };
}
