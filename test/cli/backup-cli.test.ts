// `datakeep backup` / `restore` (issue 10): the CLI takes the library's retention default instead of one of its own,
// and a restore the library refuses before writing anything (a non-empty --to, a target outside the window) is a
// usage error, exit 2.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliCaptured } from '../support/cli-run.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';

describe('datakeep backup and restore (CLI)', () => {
  let cluster: ThrowawayPostgres;
  let work: string;
  let configFile: string;
  before(async () => {
    const setup = await startBackupCluster('cli-backup', 'app');
    ({ cluster, work } = setup);
    configFile = join(work, 'datakeep.config.json');
    // No "retention": the library's default applies.
    writeFileSync(configFile, JSON.stringify({
      databases: [{ ...cluster.config, id: 'app' }], state: { url: cluster.url }, logLevel: 'error',
      backups: { destination: setup.destination, passphraseFile: setup.passphraseFile },
    }));
  });
  after(async () => {
    await cluster?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const run = (args: string[]) => runCliCaptured(args, configFile);

  it('backup create and expire apply the library\'s default retention ({daily: 7}), not a second CLI default', async () => {
    const created = await run(['backup', 'create', '--json']);
    assert.equal(created.code, 0, created.io.stderr.join('\n'));
    const expire = await run(['backup', 'expire', '--dry-run', '--json']);
    assert.equal(expire.code, 0, expire.io.stderr.join('\n'));
    const [result] = expire.io.json<{ kept: { reasons: string[] }[] }[]>();
    const reasons = result!.kept.flatMap((k) => k.reasons);
    assert.ok(reasons.some((r) => r.startsWith('daily ')), reasons.join('; '));
    assert.deepEqual(reasons.filter((r) => /^(weekly|monthly|yearly) /.test(r)), [], 'only daily buckets: the library default');
  });

  it('restore --to a non-empty directory, or to a time outside the window, is a usage error (exit 2) and nothing is written', async () => {
    const full = join(work, 'not-empty');
    mkdirSync(full);
    writeFileSync(join(full, 'keep-me'), 'x');
    const nonEmpty = await run(['restore', '--to', full, '--json']);
    assert.equal(nonEmpty.code, 2, nonEmpty.io.stderr.join('\n'));
    assert.equal(nonEmpty.io.json<{ error: { reason: string } }>().error.reason, 'unsafe-destination');
    assert.match(nonEmpty.io.stderr[0]!, /is not empty/);
    assert.deepEqual(readdirSync(full), ['keep-me']);

    const future = await run(['restore', '--to', join(work, 'never-written'), '--target-time', '2999-01-01T00:00:00Z']);
    assert.equal(future.code, 2, future.io.stderr.join('\n'));
    assert.match(future.io.stderr[0]!, /in the future/);
    assert.equal(existsSync(join(work, 'never-written')), false);
  });
});
