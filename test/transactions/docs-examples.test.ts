import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { DataManager } from '../../src/data-manager.js';
import { TimeoutError } from '../../src/errors/index.js';
import { DistributedTransactionError } from '../../src/transactions/distributed-transaction-error.js';
import { silentLogger } from '../../src/util/logger.js';
import { REDIS_URL, TransactionFixture } from '../support/transaction-fixture.js';

/**
 * Runs every ```ts block that follows an `<!-- example -->` marker in docs/transactions.md, in order, with `dm`
 * (orders: PostgreSQL with prepared transactions, billing: MariaDB, cache: Redis), `assert` and the error classes in
 * scope. A block that throws or whose assertions fail fails this test, so the documentation cannot drift from the code.
 */
const DOC = new URL('../../docs/transactions.md', import.meta.url);

function examples(): string[] {
  const text = readFileSync(DOC, 'utf8');
  const blocks: string[] = [];
  const pattern = /<!-- example -->\s*```ts\n([\s\S]*?)```/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) blocks.push(m[1]!);
  return blocks;
}

describe('docs/transactions.md examples', () => {
  let fx: TransactionFixture;
  let dm: DataManager;

  before(async () => {
    fx = await TransactionFixture.start();
    dm = new DataManager({
      config: {
        databases: [{ ...fx.cluster.config, id: 'orders', database: 'a' }, { ...fx.maria.config, id: 'billing' }, { url: REDIS_URL, id: 'cache' }],
        state: { url: fx.state.url },
      },
      logger: silentLogger,
    });
    await dm.initialize();
    dm.transactions.configure({ nodeId: fx.nodeId, recoveryInterval: 0 });
  });
  after(async () => {
    await dm?.queryDatabase('cache', ['DEL', 'order:1001:status']).catch(() => undefined);
    await dm?.close();
    await fx?.close();
  });

  it('has examples to run', () => {
    assert.ok(examples().length >= 4, `found ${examples().length} example blocks`);
  });

  for (const [index, block] of examples().entries()) {
    it(`example ${index + 1} runs and its assertions hold`, async () => {
      const js = ts.transpileModule(`export default async function example(dm, assert, DistributedTransactionError, TimeoutError) {\n${block}\n}`, {
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
      }).outputText;
      const module = (await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as { default: (...args: unknown[]) => Promise<void> };
      await module.default(dm, assert, DistributedTransactionError, TimeoutError);
    });
  }
});
