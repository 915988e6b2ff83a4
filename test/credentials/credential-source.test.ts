import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { FileCredentialSource, staticCredentials, type CredentialEvent } from '../../src/config/credential-source.js';
import { loadConfig } from '../../src/config/load-config.js';
import { resolveDatabaseConfig, withEndpoint } from '../../src/config/resolve-database-config.js';
import { ConfigurationError } from '../../src/errors/index.js';

/** Resolves with the next event of `source` (subscribing starts the watch), or rejects after `timeoutMs`. */
function nextEvent(source: FileCredentialSource, timeoutMs = 10_000): { event: Promise<CredentialEvent>; stop: () => void } {
  let stop = () => undefined as void;
  const event = new Promise<CredentialEvent>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no credential event within ${timeoutMs} ms`)), timeoutMs);
    const unsubscribe = source.onChange((e) => {
      clearTimeout(timer);
      resolve(e);
    });
    stop = () => {
      clearTimeout(timer);
      unsubscribe();
    };
  });
  return { event, stop };
}

describe('credential sources', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dk-creds-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fileWith = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('a file changed in place is seen through the watch, and the new value has its trailing newline removed', async () => {
    const path = fileWith('in-place', 'first\n');
    // A poll interval far beyond the test's bound: only the file-system event can deliver the change in time.
    const source = new FileCredentialSource(path, 'first', { pollIntervalMs: 3_600_000 });
    const { event, stop } = nextEvent(source);
    try {
      await source.check(); // the read made when the watch starts, before the change
      writeFileSync(path, 'second\n');
      assert.deepEqual(await event, { kind: 'changed', source: `passwordFile ${path}` });
      assert.equal(source.current(), 'second');
    } finally {
      stop();
    }
    assert.equal(source.watching, false, 'the last unsubscribe stops the watch');
  });

  it('a file replaced by a rename (editors, secret mounts) is seen, and so is a swapped symlink', async () => {
    const path = fileWith('renamed', 'one');
    const source = new FileCredentialSource(path, 'one', { pollIntervalMs: 3_600_000 });
    let { event, stop } = nextEvent(source);
    try {
      await source.check();
      writeFileSync(join(dir, 'renamed.new'), 'two');
      renameSync(join(dir, 'renamed.new'), path);
      assert.equal((await event).kind, 'changed');
      assert.equal(source.current(), 'two');
    } finally {
      stop();
    }
    // Kubernetes: the file is a symlink through `..data`, which is swapped to a new directory.
    mkdirs(join(dir, 'k8s', 'v1'), join(dir, 'k8s', 'v2'));
    writeFileSync(join(dir, 'k8s', 'v1', 'password'), 'alpha');
    writeFileSync(join(dir, 'k8s', 'v2', 'password'), 'beta');
    symlinkSync('v1', join(dir, 'k8s', '..data'));
    symlinkSync(join('..data', 'password'), join(dir, 'k8s', 'password'));
    const mounted = new FileCredentialSource(join(dir, 'k8s', 'password'), 'alpha', { pollIntervalMs: 3_600_000 });
    ({ event, stop } = nextEvent(mounted));
    try {
      await mounted.check();
      symlinkSync('v2', join(dir, 'k8s', '..data_tmp'));
      renameSync(join(dir, 'k8s', '..data_tmp'), join(dir, 'k8s', '..data'));
      assert.equal((await event).kind, 'changed');
      assert.equal(mounted.current(), 'beta');
    } finally {
      stop();
    }
  });

  it('without file-system events, the poll finds the change', async () => {
    const path = fileWith('polled', 'before');
    const source = new FileCredentialSource(path, 'before', { pollIntervalMs: 50, watch: false });
    const { event, stop } = nextEvent(source);
    try {
      await source.check();
      writeFileSync(path, 'after');
      assert.equal((await event).kind, 'changed');
      assert.equal(source.current(), 'after');
    } finally {
      stop();
    }
  });

  it('an empty, missing or unreadable file keeps the password and is reported once per reason; the same content is no change', async () => {
    const path = fileWith('flaky', 'kept');
    const source = new FileCredentialSource(path, 'kept', { pollIntervalMs: 3_600_000, watch: false });
    const events: CredentialEvent[] = [];
    const unsubscribe = source.onChange((e) => events.push(e));
    try {
      writeFileSync(path, '\n');
      assert.equal(await source.check(), false);
      assert.equal(await source.check(), false);
      unlinkSync(path);
      assert.equal(await source.check(), false);
      if (process.getuid?.() !== 0) {
        writeFileSync(path, 'x');
        chmodSync(path, 0);
        assert.equal(await source.check(), false);
        unlinkSync(path);
      }
      writeFileSync(path, 'kept\n');
      assert.equal(await source.check(), false, 'the same password is no change');
      assert.equal(source.current(), 'kept');
      const reasons = events.map((e) => (e.kind === 'unusable' ? e.reason : e.kind));
      assert.deepEqual(reasons, process.getuid?.() !== 0 ? ['empty', 'ENOENT', 'EACCES'] : ['empty', 'ENOENT']);
      assert.ok(!JSON.stringify(events).includes('kept'), 'events never carry the password');
    } finally {
      unsubscribe();
    }
  });

  it('a static password never changes', () => {
    const source = staticCredentials('fixed');
    let called = false;
    source.onChange(() => (called = true))();
    assert.equal(source.current(), 'fixed');
    assert.equal(called, false);
  });

  it('a resolved configuration reads the file\'s password of now, and never shows it (JSON, spread, inspect)', async () => {
    const path = fileWith('resolved', 'Initial-Secret-1\n');
    const config = resolveDatabaseConfig({ type: 'postgresql', host: 'db', passwordFile: path }, 'databases[0]');
    const replica = withEndpoint(config, { id: 'replica', host: 'db2', port: 5433 });
    assert.equal(config.password, 'Initial-Secret-1');
    writeFileSync(path, 'Rotated-Secret-2');
    assert.equal(await (config.credentials as FileCredentialSource).check(), true);
    assert.equal(config.password, 'Rotated-Secret-2');
    assert.equal(replica.password, 'Rotated-Secret-2', 'an endpoint without its own password follows the source');
    for (const shown of [JSON.stringify(config), JSON.stringify({ ...config }), inspect(config), inspect(replica), JSON.stringify(replica)]) {
      assert.ok(!shown.includes('Secret'), shown);
    }
    assert.equal(withEndpoint(config, { id: 'r2', host: 'db3', port: 5432, password: 'own' }).password, 'own');
  });

  it('an empty or unreadable passwordFile is a configuration error naming the field', () => {
    const empty = fileWith('empty', '\n');
    assert.throws(() => resolveDatabaseConfig({ type: 'postgresql', host: 'db', passwordFile: empty }, 'databases[0]'), (e: unknown) => e instanceof ConfigurationError && e.field === 'databases[0].passwordFile' && /is empty/.test(e.message));
    assert.throws(() => resolveDatabaseConfig({ type: 'postgresql', host: 'db', passwordFile: join(dir, 'nope') }, 'databases[0]'), (e: unknown) => e instanceof ConfigurationError && e.field === 'databases[0].passwordFile' && /ENOENT/.test(e.message));
  });
});

describe('${ENV} references in a configuration file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dk-envref-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (config: unknown, env: NodeJS.ProcessEnv) => {
    const file = join(dir, 'datakeep.config.json');
    writeFileSync(file, JSON.stringify(config));
    return loadConfig({ file, env, cwd: dir });
  };

  it('a password with URL delimiters in a URL\'s userinfo is percent-encoded, so it arrives unchanged', () => {
    const env = { DK_USER: 'app@corp', DK_PW: 'p@ss:w/rd?#%' };
    const config = load({ databases: ['postgres://${DK_USER}:${DK_PW}@db.internal:5433/app?application_name=${DK_USER}'] }, env);
    const db = config.databases[0]!;
    assert.equal(db.username, 'app@corp');
    assert.equal(db.password, 'p@ss:w/rd?#%');
    assert.equal(db.host, 'db.internal');
    assert.equal(db.port, 5433);
    assert.equal(db.applicationName, 'app@corp', 'outside the userinfo the value is used as it is');
  });

  it('a password field takes the value as it is', () => {
    const config = load({ databases: [{ type: 'mariadb', host: 'db', username: 'app', password: '${DK_PW}' }] }, { DK_PW: 'a%20b' });
    assert.equal(config.databases[0]!.password, 'a%20b');
  });

  it('an unset variable names the field and the variable, and no value', () => {
    assert.throws(
      () => load({ databases: [{ type: 'postgresql', url: 'postgres://app:${DK_UNSET_PW}@db/app' }] }, { OTHER: 'Visible-Secret' }),
      (e: unknown) => e instanceof ConfigurationError && e.field === 'databases[0].url' && /DK_UNSET_PW, which is not set/.test(e.message) && !e.message.includes('Visible-Secret'),
    );
  });
});

function mkdirs(...paths: string[]): void {
  for (const path of paths) mkdirSync(path, { recursive: true });
}
