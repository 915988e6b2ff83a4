import { MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { ReplicationError } from '../../../errors/index.js';
import { describeError } from './node-clients.js';

/** Server error codes (src/mongo/base/error_codes.yml) that replication commands answer with. */
export const ErrorCodes = {
  BadValue: 2,
  Unauthorized: 13,
  MaxTimeMSExpired: 50,
  InvalidReplicaSetConfig: 93,
  NotSecondary: 95,
  NewReplicaSetConfigurationIncompatible: 103,
  ConfigurationInProgress: 109,
  ExceededTimeLimit: 262,
  NotWritablePrimary: 10107,
  NotPrimaryNoSecondaryOk: 13435,
} as const;

/** MongoDB's message when replSetStepDown's secondaryCatchUpPeriodSecs ran out (servers before 4.x used other codes). */
const NO_ELECTABLE = /no electable secondaries caught up/i;

export interface ErrorContext {
  readonly node: string;
  readonly step: string;
  /** The catch-up period of a step-down, for the message. */
  readonly catchUpSecs?: number;
}

/**
 * Turns what a replication command threw into a ReplicationError that says what happened and what to do. A step-down
 * that found no caught-up electable secondary left the primary in place: nothing changed, which the message says.
 */
export function mapReplicationError(error: unknown, context: ErrorContext): ReplicationError {
  if (error instanceof ReplicationError) return error;
  const { node, step } = context;
  const options = { node, step, cause: error };
  const detail = describeError(error);
  if (error instanceof MongoServerError) {
    const code = typeof error.code === 'number' ? error.code : undefined;
    if (NO_ELECTABLE.test(error.message) || (code === ErrorCodes.ExceededTimeLimit && step === 'step-down')) {
      return new ReplicationError(
        'no-candidate',
        `${node}: no electable secondary caught up with the primary within ${context.catchUpSecs ?? 'the catch-up period of'} s, so it stayed primary and nothing changed (${detail}). ` +
          'Check the secondaries\' lag with `datakeep replication status` and try again once one has caught up; datakeep never forces a step-down, which could roll back acknowledged writes',
        options,
      );
    }
    if (code === ErrorCodes.NotWritablePrimary || code === ErrorCodes.NotPrimaryNoSecondaryOk || error.codeName === 'NotWritablePrimary' || error.codeName === 'NotMaster') {
      return new ReplicationError('not-a-primary', `${node} is not the primary (${detail}); elections may have moved it: run \`datakeep replication status\` to see which member is primary now`, options);
    }
    if (code === ErrorCodes.ExceededTimeLimit || code === ErrorCodes.MaxTimeMSExpired) {
      return new ReplicationError('timeout', `${node}: ${step} ran out of time on the server (${detail})`, options);
    }
    if (code === ErrorCodes.Unauthorized) {
      return new ReplicationError('refused', `${node}: not authorized for ${step} (${detail}); the user needs the clusterManager role (clusterMonitor for status only)`, options);
    }
    if (code === ErrorCodes.NewReplicaSetConfigurationIncompatible || code === ErrorCodes.InvalidReplicaSetConfig || code === ErrorCodes.ConfigurationInProgress) {
      return new ReplicationError('refused', `${node}: the replica set refused the configuration change (${detail}); wait for the previous reconfiguration to finish (rs.status()) and retry`, options);
    }
    return new ReplicationError('failed', `${node}: ${step} failed (${detail})`, options);
  }
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) {
    return new ReplicationError('unreachable', `${node}: cannot reach the member for ${step} (${detail})`, options);
  }
  return new ReplicationError('failed', `${node}: ${step} failed (${detail})`, options);
}
