import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  isRecoverableError,
} from 'etcd3';
import { isBrokenCircuitError } from 'cockatiel';
import { ReplicationError } from '../errors/replication-error.js';
import { withTimeout } from '../resilience/with-timeout.js';

/** Raised by `bounded` when our own timer fires first (grpc's deadline should have, but a queued call may not see it). */
class EtcdCallTimeout extends Error {}

/**
 * Runs one etcd call with a limit: the grpc deadline is set from `timeoutMs`, and our own timer backs it up. Any
 * failure becomes a ReplicationError naming the endpoints (never credentials) and the step.
 */
export async function bounded<T>(endpoints: string, step: string, timeoutMs: number, call: (options: { deadline: Date }) => Promise<T>): Promise<T> {
  const deadline = new Date(Date.now() + timeoutMs);
  try {
    // The backup timer fires a little after the grpc deadline, so that grpc's own error (more precise) wins.
    return await withTimeout(() => call({ deadline }), timeoutMs + 250, () => new EtcdCallTimeout(`no answer within ${timeoutMs} ms`));
  } catch (error) {
    throw etcdFailure(error, endpoints, step, timeoutMs);
  }
}

/** Whether an error means etcd could not be reached or did not answer in time (as opposed to a refusal). */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof ReplicationError) return error.reason === 'unreachable';
  return (
    error instanceof EtcdCallTimeout ||
    error instanceof GRPCDeadlineExceededError ||
    error instanceof GRPCUnavailableError ||
    error instanceof GRPCCancelledError ||
    error instanceof ClientClosedError ||
    isBrokenCircuitError(error) ||
    (error instanceof Error && isRecoverableError(error))
  );
}

/** A ReplicationError for a failed etcd call: 'unreachable', 'refused' (authentication, permissions) or 'failed'. */
export function etcdFailure(error: unknown, endpoints: string, step: string, timeoutMs?: number): ReplicationError {
  if (error instanceof ReplicationError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  if (isUnreachable(error)) {
    const limit = timeoutMs === undefined ? '' : ` within ${timeoutMs} ms`;
    return new ReplicationError('unreachable', `etcd at ${endpoints} did not answer ${step}${limit} (${detail}); check that etcd runs and that this host reaches it`, { step, cause: error });
  }
  if (
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdInvalidAuthTokenError ||
    error instanceof EtcdPermissionDeniedError ||
    error instanceof GRPCUnauthenticatedError
  ) {
    return new ReplicationError('refused', `etcd at ${endpoints} refused ${step} (${detail}); check the authority's username, password and the user's role on the key prefix`, { step, cause: error });
  }
  return new ReplicationError('failed', `etcd at ${endpoints}: ${step} failed (${detail})`, { step, cause: error });
}
