import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backupPostgresStream, restorePostgres } from '../../src/engines/postgres/backup/index.js';
import { startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';

let env: ArchivingPostgres;

before(async () => {
  env = await startArchivingPostgres('pgstream');
  await env.cluster.query('CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g');
});
after(async () => {
  await env?.destroy();
});

describe('backup over the replication protocol', () => {
  it('streams pg_basebackup into the repository; the restore starts and holds the data', async () => {
    const result = await backupPostgresStream({
      host: env.cluster.host, port: env.cluster.port, user: 'postgres', repository: env.repository, database: 'stream',
    });
    assert.equal(result.type, 'full');
    assert.equal(result.manifest.metadata.method, 'pg_basebackup');
    assert.ok(result.walSegments.length >= 1);
    assert.ok(result.manifest.files.some((f) => f.path === 'global/pg_control'));
    assert.ok(!result.manifest.files.some((f) => f.path === 'backup_label'), 'the label is kept with the manifest');
    await env.cluster.query("INSERT INTO items VALUES (-1, 'after the backup')");
    await env.switchAndArchive();

    const to = env.restoreDir('restored-stream');
    const port = await env.freePort();
    await restorePostgres({ repository: env.repository, backupId: result.backupId, to, restoreCommand: env.restoreCommand, settings: { archive_mode: 'off' }, start: { port } });
    try {
      const [row] = await env.queryRestored<{ n: string; after: string }>(port, "SELECT count(*) AS n, count(*) FILTER (WHERE v = 'after the backup') AS after FROM items");
      assert.equal(Number(row!.n), 20001);
      assert.equal(Number(row!.after), 1);
    } finally {
      await env.stopRestored(to);
    }
  });
});
