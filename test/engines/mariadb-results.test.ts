import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { MariadbAdapter } from '../../src/engines/mariadb/mariadb-adapter.js';
import { QueryError, TimeoutError, UsageError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';

describe('mariadb results and statements (127.0.0.1:3306)', () => {
  let db: MariadbTestDatabase;
  let adapter: MariadbAdapter;

  before(async () => {
    db = await createMariadbTestDatabase();
    adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, poolSize: 2 }, 'test'), { logger: silentLogger });
    await adapter.connect();
    await adapter.script(`
      CREATE TABLE nums (id bigint AUTO_INCREMENT PRIMARY KEY, big bigint, ubig bigint unsigned, amount decimal(30,10), bin varbinary(8));
      INSERT INTO nums (big, ubig, amount, bin) VALUES (1, 2, 12345678901234567890.0123456789, X'00ff'), (-9007199254740993, 18446744073709551615, 0.5, NULL);
    `);
  });
  after(async () => {
    await adapter?.close();
    await db?.drop();
  });

  it('returns COUNT(*) and BIGINT values as numbers when exact, as exact strings beyond 2^53', async () => {
    const [count] = await adapter.query('SELECT COUNT(*) AS n FROM nums');
    assert.deepEqual(count, { n: 2 });
    const rows = await adapter.query('SELECT id, big, ubig FROM nums ORDER BY id');
    assert.deepEqual(rows, [
      { id: 1, big: 1, ubig: 2 },
      { id: 2, big: '-9007199254740993', ubig: '18446744073709551615' },
    ]);
    // Nothing a BigInt: results serialise as JSON like every other adapter's.
    assert.doesNotThrow(() => JSON.stringify(rows));
  });

  it('returns plain arrays of plain objects (no driver metadata), DECIMAL as an exact string, binary as a Buffer', async () => {
    const rows = await adapter.query('SELECT amount, bin FROM nums ORDER BY id');
    assert.equal(Object.getPrototypeOf(rows), Array.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(rows, 'meta'), undefined);
    assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
    assert.equal(rows[0]!.amount, '12345678901234567890.0123456789');
    assert.ok(Buffer.isBuffer(rows[0]!.bin) && (rows[0]!.bin as Buffer).equals(Buffer.from([0x00, 0xff])));
  });

  it('execute returns affected rows as a number; command() reports the insert id as a number or exact string', async () => {
    // Matched rows, not only changed ones (the driver's foundRows default), as PostgreSQL counts them.
    assert.equal(await adapter.execute('UPDATE nums SET big = big WHERE id > ?', [0]), 2);
    assert.equal(await adapter.execute('UPDATE nums SET big = big + 1 WHERE id = ?', [1]), 1);
    const inserted = await adapter.command('INSERT INTO nums (big) VALUES (?), (?)', [7, 8]);
    assert.deepEqual(inserted, { affectedRows: 2, insertId: 3, warningStatus: 0 });
    await adapter.execute('ALTER TABLE nums AUTO_INCREMENT = 9007199254740993');
    const huge = (await adapter.command('INSERT INTO nums (big) VALUES (?)', [9])) as { insertId: unknown };
    assert.equal(huge.insertId, '9007199254740993');
    assert.deepEqual(await adapter.command('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('checks the ? count against the parameters, ignoring ? in literals, quoted names and comments', async () => {
    const rows = await adapter.query("SELECT '?' AS q, \"?\" AS d, ? AS `?` /* ? */ # ?\n-- ?\n", [5]);
    assert.deepEqual(rows, [{ q: '?', d: '?', '?': 5 }]);
    const extra = await adapter.query('SELECT ? AS a', [1, 2]).then(() => undefined, (e: unknown) => e);
    assert.ok(extra instanceof UsageError);
    assert.equal(extra.argument, 'params');
    assert.match(extra.message, /1 \? placeholder\(s\) but 2 parameter\(s\)/);
    await assert.rejects(adapter.query('SELECT ? AS a, ? AS b', [1]), UsageError);
  });

  it('script() splits at delimiters, honours DELIMITER for routine bodies, and names the failing statement', async () => {
    await adapter.script(`
      -- a comment-only chunk is not a statement;
      DELIMITER $$
      CREATE PROCEDURE add_two(IN a int, OUT b int)
      BEGIN
        SET b = a + 1;
        SET b = b + 1;
      END$$
      DELIMITER ;
      CALL add_two(40, @r);
    `);
    assert.deepEqual(await adapter.withSession(async (s) => {
      await s.execute('CALL add_two(?, @r)', [40]);
      return s.query('SELECT @r AS r');
    }), [{ r: 42 }]);
    const error = await adapter.script('SELECT 1; SELECT * FROM no_such_table; SELECT 3').then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof QueryError);
    assert.match(error.message, /statement 2 of 3/);
    assert.equal(error.sqlState, '42S02');
  });

  it('a statement timeout interrupts a long statement with a statement TimeoutError', async () => {
    const timed = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, poolSize: 1, statementTimeout: 100, id: 'timed' }, 'test'), { logger: silentLogger });
    await timed.connect();
    try {
      const error = await timed.query('SELECT SLEEP(5) AS s').then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof TimeoutError, `expected TimeoutError, got ${String(error)}`);
      assert.equal(error.kind, 'statement');
      assert.equal(error.timeoutMs, 100);
      // The session survives the timeout and keeps its limit.
      assert.deepEqual(await timed.query('SELECT @@max_statement_time AS t'), [{ t: 0.1 }]);
    } finally {
      await timed.close();
    }
  });
});
