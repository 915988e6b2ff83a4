import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { ReplicationError } from '../../src/errors/replication-error.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';

const SECRET = 'rep-s3cret-\'quoted\' pw';
let rp: ReplicatedPostgres | undefined;
after(async () => {
  await rp?.destroy();
});

it('creates, promotes and repoints replicas of a primary that requires a password, never showing it in errors', async () => {
  rp = await ReplicatedPostgres.start({ name: 'repl-auth', password: SECRET });
  const d = rp.driver;
  const [r1, r2] = await rp.createReplicas(2);
  const conf = readFileSync(join(r1!.dataDir!, 'postgresql.auto.conf'), 'utf8');
  assert.match(conf, /application_name=r1/);
  assert.match(conf, /primary_slot_name = 'datakeep_r1'/);
  const all = await d.status(rp.nodes, { timeoutMs: 3_000 });
  assert.deepEqual(all.map((s) => [s.name, s.role, s.upstream ?? null]), [['p0', 'primary', null], ['r1', 'replica', 'p0'], ['r2', 'replica', 'p0']]);

  await rp.query(rp.primaryNode, 'CREATE TABLE a (id int)');
  const { position } = await d.stopWrites(rp.primaryNode, { timeoutMs: 20_000 });
  await d.waitForReplay(r1!, position, { timeoutMs: 10_000 });
  await d.promote(r1!, { timeoutMs: 10_000 });
  await d.repoint(r2!, r1!, { timeoutMs: 20_000 });
  const { rewound } = await d.rejoin(rp.primaryNode, r1!, { timeoutMs: 30_000 });
  assert.equal(rewound, false);
  await rp.query(r1!, 'INSERT INTO a VALUES (1)');
  await d.waitForReplay(rp.primaryNode, await rp.currentLsn(r1!), { timeoutMs: 10_000 });

  // A wrong password: the error says what failed, without the password that was tried.
  const wrong = { ...r2!, config: { ...r2!.config, password: 'not-the-password-xyz' } };
  const [seen] = await d.status([wrong], { timeoutMs: 3_000 });
  assert.equal(seen!.reachable, false);
  assert.match(seen!.error!, /password authentication failed/);
  assert.ok(!seen!.error!.includes('not-the-password-xyz'));
  await assert.rejects(d.promote(wrong, { timeoutMs: 3_000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'unreachable' && !e.message.includes('not-the-password-xyz'));
});
