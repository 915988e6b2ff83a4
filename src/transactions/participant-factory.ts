import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { optionalEnginePart } from '../engines/engine-registry.js';
import { CapabilityError, UsageError } from '../errors/index.js';
import type { LastResource } from './last-resource.js';
import type { ParticipantRecord } from './transaction-types.js';
import type { XaParticipant } from './xa-participant.js';

export interface PlannedParticipants {
  readonly records: readonly ParticipantRecord[];
  readonly xa: readonly { readonly record: ParticipantRecord; readonly participant: XaParticipant }[];
  readonly lastResource: { readonly record: ParticipantRecord; readonly resource: LastResource } | undefined;
}

/** The XA side of an adapter (its engine's transaction part), or undefined when it cannot prepare. */
export function xaParticipantFor(adapter: DatabaseAdapter): XaParticipant | undefined {
  if (adapter.capabilities.twoPhase !== 'xa') return undefined;
  return optionalEnginePart(adapter, 'transactions')?.xaParticipant?.(adapter);
}

/** The one-phase side of an adapter (committed last), or undefined when its engine offers none. */
export function lastResourceFor(adapter: DatabaseAdapter): LastResource | undefined {
  if (adapter.capabilities.twoPhase !== 'one-phase') return undefined;
  return optionalEnginePart(adapter, 'transactions')?.lastResource?.(adapter);
}

/**
 * Checks the participant list and gives each its role: every XA-capable adapter a branch, at most one one-phase
 * adapter as the last resource. Everything is refused before anything runs.
 */
export function planParticipants(adapters: readonly DatabaseAdapter[]): PlannedParticipants {
  if (adapters.length === 0) throw new UsageError('participants', 'expected at least one adapter id, e.g. ["orders", "billing"]');
  if (adapters.length > 999) throw new UsageError('participants', 'at most 999 participants (the branch number has three digits)');
  const seen = new Set<string>();
  const records: ParticipantRecord[] = [];
  const xa: { record: ParticipantRecord; participant: XaParticipant }[] = [];
  let lastResource: PlannedParticipants['lastResource'];
  adapters.forEach((adapter, index) => {
    if (seen.has(adapter.id)) throw new UsageError('participants', `"${adapter.id}" is listed twice; give each database once`);
    seen.add(adapter.id);
    const branch = String(index + 1);
    const participant = xaParticipantFor(adapter);
    if (participant) {
      const record: ParticipantRecord = { branch, adapterId: adapter.id, type: adapter.type, role: 'xa' };
      records.push(record);
      xa.push({ record, participant });
      return;
    }
    const resource = lastResourceFor(adapter);
    if (resource) {
      if (lastResource) {
        throw new CapabilityError(
          adapter.id,
          'a second one-phase participant',
          `"${lastResource.record.adapterId}" (${lastResource.record.type}) and "${adapter.id}" (${adapter.type}) can both only commit in one phase, and only one participant can be committed last without a prepare, so a crash between their two commits could leave one committed and the other not`,
          'Keep one of them out of the distributed transaction and update it afterwards as a saga step: an idempotent write keyed by the transaction\'s global id, with a compensating write if the distributed transaction aborts (see docs/transactions.md, "Two one-phase participants")',
        );
      }
      const record: ParticipantRecord = { branch, adapterId: adapter.id, type: adapter.type, role: 'last-resource' };
      records.push(record);
      lastResource = { record, resource };
      return;
    }
    throw new CapabilityError(adapter.id, 'distributed transactions', `a ${adapter.type} database cannot prepare a transaction (XA) and datakeep does not use it as the last resource`, 'Use PostgreSQL or MariaDB/MySQL participants (they prepare), plus at most one Redis or MongoDB participant (committed last)');
  });
  return { records, xa, lastResource };
}
