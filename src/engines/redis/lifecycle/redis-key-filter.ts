import { DataLifecycleError } from '../../../errors/index.js';
import type { BoundPolicy } from '../../../lifecycle/lifecycle-part.js';

const TYPES = ['string', 'list', 'set', 'zset', 'hash', 'stream'] as const;

/** Which keys a Redis policy takes: those matching the pattern and every condition given. */
export interface RedisKeyFilter {
  readonly pattern: string;
  /** Keys idle (neither read nor written) for at least this many seconds: OBJECT IDLETIME. */
  readonly idleSeconds: number | undefined;
  /** 'none': keys without an expiry; 'set': keys with one. */
  readonly ttl: 'none' | 'set' | undefined;
  /** Keys of this type only (TYPE). */
  readonly type: (typeof TYPES)[number] | undefined;
}

const EXAMPLE = '{"ttl": "none", "type": "hash"}';

/**
 * The policy's key filter, checked before anything runs. Redis keeps no creation time for a key, so an age
 * (retentionDays, ageThreshold) is refused: "old" keys are idle ones (`idleSeconds`) here. `where` is a JSON object
 * with `ttl` ("none" or "set") and/or `type` (a Redis type name).
 */
export function redisKeyFilter(policy: BoundPolicy): RedisKeyFilter {
  const pattern = policy.keyPattern;
  if (pattern === undefined) throw new DataLifecycleError('unknown-target', policy.name, `Redis policies name a keyPattern (got a ${policy.table !== undefined ? 'table' : 'collection'})`);
  if (policy.age) {
    throw new DataLifecycleError('unknown-column', policy.name, `Redis keeps no creation time for a key, so "${policy.age.column}" older than ${policy.age.days} days cannot be measured; use "idleSeconds" (keys not read or written for that long) and/or "where": ${EXAMPLE}`);
  }
  let ttl: RedisKeyFilter['ttl'];
  let type: RedisKeyFilter['type'];
  if (policy.where !== undefined) {
    let condition: unknown;
    try {
      condition = JSON.parse(policy.where);
    } catch {
      throw new DataLifecycleError('bad-condition', policy.name, `"where" of a Redis policy is a JSON object such as ${EXAMPLE}, got ${JSON.stringify(policy.where)}`);
    }
    if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
      throw new DataLifecycleError('bad-condition', policy.name, `"where" of a Redis policy is a JSON object such as ${EXAMPLE}`);
    }
    for (const [field, value] of Object.entries(condition)) {
      if (field === 'ttl') {
        if (value !== 'none' && value !== 'set') throw new DataLifecycleError('bad-condition', policy.name, `where.ttl must be "none" (keys without an expiry) or "set" (keys with one), got ${JSON.stringify(value)}`);
        ttl = value;
      } else if (field === 'type') {
        if (!TYPES.includes(value as RedisKeyFilter['type'] & string)) throw new DataLifecycleError('bad-condition', policy.name, `where.type must be one of ${TYPES.join(', ')}, got ${JSON.stringify(value)}`);
        type = value as RedisKeyFilter['type'];
      } else {
        throw new DataLifecycleError('bad-condition', policy.name, `where.${field} is not a Redis key condition; use "ttl" ("none" or "set") and "type", and "idleSeconds" beside "where"`);
      }
    }
  }
  if (policy.idleSeconds === undefined && policy.where === undefined) {
    throw new DataLifecycleError('bad-condition', policy.name, `a Redis policy needs "idleSeconds" or a "where" condition (${EXAMPLE}); to take every key of the pattern, say so with "where": {} and "allowAll" if it is all of them`);
  }
  return { pattern, idleSeconds: policy.idleSeconds, ttl, type };
}

/** The filter as the scripts' arguments: idle seconds (0: any), ttl mode ('' any), type ('' any). */
export function filterArguments(filter: RedisKeyFilter): string[] {
  return [String(filter.idleSeconds ?? 0), filter.ttl ?? '', filter.type ?? ''];
}
