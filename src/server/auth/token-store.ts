import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Row } from '../../adapters/database-adapter.js';
import { UsageError } from '../../errors/index.js';
import { audited } from '../../state/audited.js';
import type { StateStore } from '../../state/state-store.js';
import { currentActor } from '../../state/audit-actor.js';
import { SingleFlight } from '../single-flight.js';
import { isRole, ROLES, type Role } from './roles.js';

/** What `token list` and the API show of a token: never the token, never its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  createdBy: string;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const PREFIX = 'dk_';
/** A token is `dk_` and 32 random bytes in base64url (43 characters). */
const TOKEN_SHAPE = /^dk_[A-Za-z0-9_-]{43}$/;
const NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$/;
/** last_used_at is written at most this often per token: a read-only request should not cost a write each time. */
const LAST_USED_EVERY_MS = 60_000;

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * API tokens in the state store, kept as SHA-256 hashes (a token has 256 random bits, so a fast hash is enough: there
 * is nothing to guess). Every change is audited. Lookups read the store on every call: a token revoked by
 * `datakeep token revoke` in another process is refused at its next request.
 */
export class TokenStore {
  readonly #lastUsedWritten = new Map<string, number>();
  /** Identical lookups in flight at once share one query (a burst of requests with one token). */
  readonly #lookups = new SingleFlight<Row | undefined>();

  constructor(private readonly state: StateStore) {}

  /** Creates a token; the returned `token` is the only time it is ever shown. */
  async create(name: string, role: string): Promise<{ token: string; info: TokenInfo }> {
    if (!NAME_SHAPE.test(name)) throw new UsageError('--name', `"${name}" is not a valid token name; use letters, digits and _ . @ - (at most 63 characters)`);
    if (!isRole(role)) throw new UsageError('--role', `"${role}" is not a role; use one of: ${ROLES.join(', ')}`);
    return audited(async () => this.state, { action: 'token.create', target: name, details: { role } }, async () => {
      const existing = await this.state.adapter.query('SELECT 1 FROM datakeep.api_tokens WHERE name = ?', [name]);
      if (existing.length > 0) throw new UsageError('--name', `a token named "${name}" already exists; revoke it first or choose another name`);
      const token = PREFIX + randomBytes(32).toString('base64url');
      const id = `tok_${randomBytes(6).toString('hex')}`;
      const rows = await this.state.adapter.query<Row>(
        `INSERT INTO datakeep.api_tokens (id, name, role, hash, created_by) VALUES (?, ?, ?, ?, ?)
         RETURNING id, name, role, created_at, created_by, revoked_at, last_used_at`,
        [id, name, role, hashOf(token), currentActor()],
      );
      return { token, info: toInfo(rows[0]!) };
    }, { result: (r) => ({ id: r.info.id }) });
  }

  /** Every token, revoked ones included, oldest first. */
  async list(): Promise<TokenInfo[]> {
    const rows = await this.state.adapter.query<Row>('SELECT id, name, role, created_at, created_by, revoked_at, last_used_at FROM datakeep.api_tokens ORDER BY created_at, id');
    return rows.map(toInfo);
  }

  /** Whether any token that is not revoked exists (the service creates the first admin token when none does). */
  async anyActive(): Promise<boolean> {
    return (await this.state.adapter.query('SELECT 1 FROM datakeep.api_tokens WHERE revoked_at IS NULL LIMIT 1')).length > 0;
  }

  /** Revokes by id or name; revoking a revoked token is an error naming when it was revoked. */
  async revoke(idOrName: string): Promise<TokenInfo> {
    return audited(async () => this.state, { action: 'token.revoke', target: idOrName }, async () => {
      const rows = await this.state.adapter.query<Row>('SELECT id, name, role, created_at, created_by, revoked_at, last_used_at FROM datakeep.api_tokens WHERE id = ? OR name = ?', [idOrName, idOrName]);
      const found = rows[0];
      if (!found) throw new UsageError('<id|name>', `no token "${idOrName}"; see datakeep token list`);
      if (found.revoked_at) throw new UsageError('<id|name>', `token "${idOrName}" was already revoked at ${(found.revoked_at as Date).toISOString()}`);
      const updated = await this.state.adapter.query<Row>(
        'UPDATE datakeep.api_tokens SET revoked_at = now() WHERE id = ? RETURNING id, name, role, created_at, created_by, revoked_at, last_used_at',
        [found.id],
      );
      return toInfo(updated[0]!);
    });
  }

  /** The token's name and role, or undefined for a token that is malformed, unknown or revoked. */
  async verify(token: string): Promise<{ id: string; name: string; role: Role } | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const hash = hashOf(token);
    const row = await this.#lookups.run(hash.toString('hex'), async () => (await this.state.adapter.query<Row>('SELECT id, name, role, hash FROM datakeep.api_tokens WHERE hash = ? AND revoked_at IS NULL', [hash]))[0]);
    // The lookup is by hash; the comparison is repeated in constant time so that no code path compares secrets
    // byte by byte.
    if (!row || !timingSafeEqual(Buffer.from(row.hash as Uint8Array), hash)) return undefined;
    this.#touch(String(row.id));
    return { id: String(row.id), name: String(row.name), role: row.role as Role };
  }

  #touch(id: string): void {
    const now = Date.now();
    if (now - (this.#lastUsedWritten.get(id) ?? 0) < LAST_USED_EVERY_MS) return;
    this.#lastUsedWritten.set(id, now);
    void this.state.adapter.execute('UPDATE datakeep.api_tokens SET last_used_at = now() WHERE id = ?', [id]).catch(() => undefined);
  }
}

function toInfo(r: Row): TokenInfo {
  return {
    id: String(r.id), name: String(r.name), role: r.role as Role, createdAt: r.created_at as Date, createdBy: String(r.created_by),
    revokedAt: (r.revoked_at as Date | null) ?? null, lastUsedAt: (r.last_used_at as Date | null) ?? null,
  };
}
