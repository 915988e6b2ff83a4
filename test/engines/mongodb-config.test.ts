import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { ConfigurationError } from '../../src/errors/index.js';
import { mongoClientOptions } from '../../src/engines/mongodb/mongo-client-options.js';

const PASSWORD = 'S3cret-pw-for-mongo';
const CA = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';

function plan(input: Record<string, unknown>) {
  return mongoClientOptions(resolveDatabaseConfig(input, 'databases[0]'));
}

/** What the real driver makes of the options (constructing a client parses them; it does not connect). */
function driverView(p: ReturnType<typeof plan>) {
  const client = new MongoClient(p.url, p.options);
  return client.options;
}

describe('mongoClientOptions: the seed\'s fields', () => {
  const p = plan({ type: 'mongodb', host: 'db.example', port: 27018, database: 'app', username: 'alice', password: PASSWORD, poolSize: 20, timeout: 5000, options: { replicaSet: 'rs0' } });

  it('builds a connection string without credentials and puts them in auth', () => {
    assert.equal(p.url, 'mongodb://db.example:27018/');
    assert.ok(!p.url.includes(PASSWORD));
    assert.deepEqual(p.options.auth, { username: 'alice', password: PASSWORD });
  });

  it('maps poolSize, timeout and applicationName to maxPoolSize, selection/connect timeouts and appName', () => {
    assert.equal(p.options.maxPoolSize, 20);
    assert.equal(p.options.serverSelectionTimeoutMS, 5000);
    assert.equal(p.options.connectTimeoutMS, 5000);
    assert.equal(p.options.appName, 'datakeep');
    assert.equal(p.options.monitorCommands, true);
    assert.equal(p.maxPoolSize, 20);
    assert.equal(p.serverSelectionTimeoutMs, 5000);
    assert.equal(p.database, 'app');
  });

  it('authenticates against the database, as mongodb://user:pass@host/app would', () => {
    assert.equal(p.options.authSource, 'app');
    const view = driverView(p);
    assert.equal(view.credentials?.username, 'alice');
    assert.equal(view.credentials?.source, 'app');
    assert.equal(view.replicaSet, 'rs0');
    assert.equal(view.maxPoolSize, 20);
    assert.equal(view.serverSelectionTimeoutMS, 5000);
  });

  it('options.authSource wins', () => {
    const q = plan({ type: 'mongodb', host: 'h', database: 'app', username: 'root', password: PASSWORD, options: { authSource: 'admin' } });
    assert.equal(driverView(q).credentials?.source, 'admin');
  });

  it('without a username there are no credentials', () => {
    const q = plan({ type: 'mongodb', host: 'h', database: 'app' });
    assert.equal(q.options.auth, undefined);
    assert.equal(q.options.authSource, undefined);
    assert.equal(driverView(q).credentials, undefined);
  });

  it('directConnection reaches the driver', () => {
    const q = plan({ type: 'mongodb', host: 'h', options: { directConnection: true } });
    assert.equal(driverView(q).directConnection, true);
  });

  it('brackets an IPv6 host and percent-encodes a Unix socket path', () => {
    assert.equal(plan({ type: 'mongodb', host: '::1' }).url, 'mongodb://[::1]:27017/');
    const socket = plan({ type: 'mongodb', host: '/tmp/mongodb-27017.sock' });
    assert.equal(socket.url, 'mongodb://%2Ftmp%2Fmongodb-27017.sock/');
    assert.deepEqual(driverView(socket).hosts.map(String), ['/tmp/mongodb-27017.sock']);
  });

  it('maps ssl to tls options', () => {
    const q = plan({ type: 'mongodb', host: 'h', ssl: { ca: CA, rejectUnauthorized: false, servername: 'db.internal' } });
    assert.equal(q.options.tls, true);
    assert.equal(q.options.ca, CA);
    assert.equal(q.options.servername, 'db.internal');
    assert.equal(q.options.tlsAllowInvalidCertificates, true);
    const strict = plan({ type: 'mongodb', host: 'h', ssl: true });
    assert.equal(strict.options.tls, true);
    assert.equal(strict.options.tlsAllowInvalidCertificates, undefined);
    assert.equal(plan({ type: 'mongodb', host: 'h' }).options.tls, undefined);
  });

  it('the transaction time limit defaults to 120 s and is configurable', () => {
    assert.equal(plan({ type: 'mongodb', host: 'h' }).transactionTimeLimitMs, 120_000);
    assert.equal(plan({ type: 'mongodb', host: 'h', options: { transactionTimeLimitMs: 30_000 } }).transactionTimeLimitMs, 30_000);
  });
});

describe('mongoClientOptions: a URL', () => {
  const url = `mongodb://bob:${encodeURIComponent(PASSWORD)}@a.example:27017,b.example:27018,c.example/app?replicaSet=rs0&maxPoolSize=50&appName=shop&authSource=admin`;
  const p = plan({ url });

  it('hands the URL to the driver unchanged, with every host', () => {
    assert.equal(p.url, url);
    const view = driverView(p);
    assert.deepEqual(view.hosts.map(String), ['a.example:27017', 'b.example:27018', 'c.example:27017']);
    assert.equal(view.replicaSet, 'rs0');
    assert.equal(view.credentials?.username, 'bob');
    assert.equal(view.credentials?.password, PASSWORD);
  });

  it('lets the URL\'s own options win over datakeep defaults', () => {
    assert.equal(p.options.maxPoolSize, undefined);
    assert.equal(p.options.appName, undefined);
    assert.equal(p.maxPoolSize, 50);
    const view = driverView(p);
    assert.equal(view.maxPoolSize, 50);
    assert.equal(view.appName, 'shop');
    assert.equal(view.credentials?.source, 'admin');
  });

  it('URL option names are case-insensitive', () => {
    const q = plan({ url: 'mongodb://h/app?MAXPOOLSIZE=7&serverselectiontimeoutms=900' });
    assert.equal(q.options.maxPoolSize, undefined);
    assert.equal(q.options.serverSelectionTimeoutMS, undefined);
    assert.equal(q.maxPoolSize, 7);
    assert.equal(q.serverSelectionTimeoutMs, 900);
    assert.equal(driverView(q).serverSelectionTimeoutMS, 900);
  });

  it('the database field picks the default database without changing the URL (its path stays the auth source)', () => {
    const q = plan({ url: 'mongodb://u:pw123@h/admin', database: 'shop' });
    assert.equal(q.database, 'shop');
    assert.equal(q.options.authSource, undefined);
    assert.equal(driverView(q).credentials?.source, 'admin');
  });

  it('explicit options override the URL', () => {
    const q = plan({ url: 'mongodb://h/app?replicaSet=old', options: { replicaSet: 'rs1' } });
    assert.equal(driverView(q).replicaSet, 'rs1');
  });
});

describe('mongoClientOptions: bad values name the field and never show the password', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['replicaSet not a string', { options: { replicaSet: 5 } }, 'databases (m).options.replicaSet', /non-empty string/],
    ['empty authSource', { options: { authSource: '' } }, 'databases (m).options.authSource', /non-empty string/],
    ['directConnection not boolean', { options: { directConnection: 'yes' } }, 'databases (m).options.directConnection', /true or false/],
    ['replicaSet with directConnection', { options: { replicaSet: 'rs0', directConnection: true } }, 'databases (m).options.directConnection', /together with replicaSet/],
    ['transaction time limit 0', { options: { transactionTimeLimitMs: 0 } }, 'databases (m).options.transactionTimeLimitMs', /integer >= 1/],
    ['password without username', { username: undefined }, 'databases (m).username', /password is given/],
  ];
  for (const [title, extra, field, pattern] of cases) {
    it(title, () => {
      const input = { id: 'm', type: 'mongodb', host: 'h', username: 'alice', password: PASSWORD, ...extra };
      assert.throws(
        () => plan(input),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError);
          assert.equal(error.field, field);
          assert.match(error.message, pattern);
          assert.ok(!error.message.includes(PASSWORD));
          assert.ok(!JSON.stringify(error).includes(PASSWORD));
          return true;
        },
      );
    });
  }

  it('an unknown option key is refused by the configuration layer, with a suggestion', () => {
    assert.throws(() => resolveDatabaseConfig({ type: 'mongodb', host: 'h', options: { replicaset: 'rs0' } }, 'databases[0]'), /options\.replicaset: is not a known field. Did you mean "replicaSet"\?/);
  });
});
