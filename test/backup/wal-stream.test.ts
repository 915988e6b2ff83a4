// Continuous WAL streaming (pg_receivewal snapshots in the repository): a primary killed under writes loses only
// what was not streamed yet, where the archive alone would lose everything since its last complete segment.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { backupPostgres, restorePostgres } from '../../src/engines/postgres/backup/index.js';
import { streamWal, type WalStreamEvent } from '../../src/engines/postgres/backup/wal-stream.js';
import { chownTree, startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';

let env: ArchivingPostgres;
const spool = mkdtempSync(join(tmpdir(), 'dk-walstream-'));

describe('continuous WAL streaming', () => {
  before(async () => {
    env = await startArchivingPostgres('walstream');
    await env.cluster.query('CREATE TABLE w (id bigint PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');
    await backupPostgres({ connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' }, dataDirectory: env.cluster.dataDir, repository: env.repository, type: 'full', database: 'app' });
  });
  after(async () => {
    await env?.destroy();
    rmSync(spool, { recursive: true, force: true });
  });

  it('a primary killed under writes: restore with the streamed snapshot loses (almost) nothing; without it, every write since the last segment', async () => {
    const controller = new AbortController();
    const events: WalStreamEvent[] = [];
    const streaming = streamWal({ repository: env.repository, connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres' }, spoolDirectory: spool, slot: 'datakeep_test', intervalMs: 500, signal: controller.signal, onEvent: (e) => events.push(e) });
    const client = new pg.Client({ host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    let acknowledged = 0;
    const writeUntil = Date.now() + 4000;
    while (Date.now() < writeUntil) {
      await client.query('INSERT INTO w (id) VALUES ($1)', [acknowledged + 1]);
      acknowledged += 1;
      await new Promise((r) => setTimeout(r, 5));
    }
    await env.cluster.kill();
    await client.end().catch(() => undefined);
    // Two intervals for the last snapshot of what pg_receivewal had received before the kill.
    await new Promise((r) => setTimeout(r, 1500));
    controller.abort();
    await streaming;
    assert.ok(events.some((e) => e.kind === 'snapshot'), JSON.stringify(events.slice(0, 5)));
    // In production the stream runs as the repository's owner, as the archiver does; this test ran it as root.
    chownTree(env.repositoryPath);

    const restoredRows = async (name: string): Promise<number> => {
      const to = env.restoreDir(name);
      const port = await env.freePort();
      await restorePostgres({ repository: env.repository, to, restoreCommand: env.restoreCommand, start: { port } });
      try {
        return Number((await env.queryRestored<{ n: string }>(port, 'SELECT count(*) AS n FROM w'))[0]!.n);
      } finally {
        await env.stopRestored(to);
      }
    };
    const withStream = await restoredRows('with-stream');
    const snapshots = (await env.repository.listWal()).filter((n) => n.endsWith('.stream'));
    await env.repository.deleteWal(snapshots);
    const archiveOnly = await restoredRows('archive-only');
    const lost = acknowledged - withStream;
    console.log(`# acknowledged ${acknowledged} commits; restored with the stream ${withStream} (lost ${lost}); from the archive alone ${archiveOnly} (lost ${acknowledged - archiveOnly})`);
    assert.ok(withStream <= acknowledged, 'never more rows than were written');
    assert.ok(lost <= Math.max(5, acknowledged * 0.02), `lost ${lost} of ${acknowledged} acknowledged commits with streaming`);
    assert.ok(archiveOnly < withStream, `the archive alone restored ${archiveOnly}, the stream ${withStream}`);
  });
});
