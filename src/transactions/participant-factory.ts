import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { optionalEnginePart } from '../engines/engine-registry.js';
import { CapabilityError, UsageError } from '../errors/index.js';
import type { CommitMarkableParticipant } from './commit-markable.js';
import type { LastResource } from './last-resource.js';
import { canHoldDecision } from './transaction-ids.js';
import type { ParticipantRecord } from './transaction-types.js';
import type { XaParticipant } from './xa-participant.js';

export interface PlannedXa {
  readonly record: ParticipantRecord;
  readonly participant: XaParticipant;
}

export interface PlannedParticipants {
  readonly records: readonly ParticipantRecord[];
  readonly xa: readonly PlannedXa[];
  readonly lastResource: { readonly record: ParticipantRecord; readonly resource: LastResource } | undefined;
  /** The participant whose committed decision row is the decision (never prepared), when one holds it. */
  readonly decisionRow: { readonly record: ParticipantRecord; readonly participant: CommitMarkableParticipant; readonly xa: XaParticipant } | undefined;
}

/** Where a distributed transaction's decision is held: `auto` (the first participant that can), an adapter id, or nowhere. */
export type DecisionPlacement = 'auto' | false | string;

/** The commit-markable side of an adapter (a branch that can hold the decision), or undefined when its engine offers none. */
export function commitMarkableFor(adapter: DatabaseAdapter): CommitMarkableParticipant | undefined {
  if (adapter.capabilities.twoPhase !== 'xa') return undefined;
  return optionalEnginePart(adapter, 'transactions')?.commitMarkable?.(adapter);
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
export function planParticipants(adapters: readonly DatabaseAdapter[], decisionIn: DecisionPlacement = 'auto'): PlannedParticipants {
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
  return placeDecision({ records, xa, lastResource, decisionRow: undefined }, adapters, decisionIn);
}

/**
 * Picks the participant that holds the decision: none when a one-phase participant is committed last (its commit is
 * the decision, and only one participant can go without a prepare), else the one named, else the first that can.
 */
function placeDecision(plan: PlannedParticipants, adapters: readonly DatabaseAdapter[], decisionIn: DecisionPlacement): PlannedParticipants {
  if (decisionIn === false) return plan;
  const named = decisionIn !== 'auto';
  if (named && !plan.records.some((r) => r.adapterId === decisionIn)) {
    throw new UsageError('options.decisionIn', `"${decisionIn}" is not a participant of this transaction; name one of ${plan.records.map((r) => r.adapterId).join(', ')}, "auto" or false`);
  }
  if (plan.lastResource) {
    if (!named) return plan;
    throw new UsageError('options.decisionIn', `"${plan.lastResource.record.adapterId}" (${plan.lastResource.record.type}) is committed last without a prepare, and its commit is the decision; a second participant cannot hold it. Leave decisionIn unset`);
  }
  for (const candidate of plan.xa) {
    if (named && candidate.record.adapterId !== decisionIn) continue;
    const adapter = adapters.find((a) => a.id === candidate.record.adapterId)!;
    const participant = commitMarkableFor(adapter);
    if (!participant || !canHoldDecision(adapter.id)) {
      if (!named) continue;
      throw new CapabilityError(adapter.id, 'holding the decision of a distributed transaction', participant ? `its id "${adapter.id}" does not fit into the other branches' transaction ids (up to 60 letters, digits, _ . -)` : `a ${adapter.type} database offers no commit-markable branch`, 'Name a PostgreSQL participant with a short id, or leave decisionIn unset');
    }
    const record: ParticipantRecord = { ...candidate.record, role: 'decision-row' };
    return {
      records: plan.records.map((r) => (r === candidate.record ? record : r)),
      xa: plan.xa.filter((x) => x !== candidate),
      lastResource: undefined,
      decisionRow: { record, participant, xa: candidate.participant },
    };
  }
  return plan;
}

/** The plan with the decision holder back among the prepared branches (when its engine's side could not be readied). */
export function withoutDecisionRow(plan: PlannedParticipants): PlannedParticipants {
  const held = plan.decisionRow;
  if (!held) return plan;
  const record: ParticipantRecord = { ...held.record, role: 'xa' };
  return {
    records: plan.records.map((r) => (r === held.record ? record : r)),
    xa: [...plan.xa, { record, participant: held.xa }].sort((a, b) => Number(a.record.branch) - Number(b.record.branch)),
    lastResource: plan.lastResource,
    decisionRow: undefined,
  };
}
