import type { Command } from 'commander';
import type { StateStore } from '../state/state-store.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { integerOption } from './integer-option.js';
import { loadCliConfig } from './with-manager.js';

/**
 * `datakeep token create|list|revoke` and `datakeep audit`: commands on the state store alone (no database is
 * opened), so they work while the service runs and while the databases are down.
 */
export function registerStateCommands(program: Command, runtime: CliRuntime): void {
  const token = program.command('token').description('API tokens of the service (docs/service.md)');
  token.command('create')
    .description('create a token and print it (shown once; only its hash is stored)')
    .requiredOption('--name <name>', 'a unique name (it names the token in the audit log)')
    .requiredOption('--role <role>', 'viewer (read), operator (backups, drills, lifecycle runs) or admin (restore, resolve, failover, migrations)')
    .action(runs(runtime, (ctx, command) => withState(ctx, async (state) => {
      const { TokenStore } = await import('../server/auth/token-store.js');
      const flags = command.opts<{ name: string; role: string }>();
      const { token: secret, info } = await new TokenStore(state).create(flags.name, flags.role);
      if (ctx.json) ctx.io.out(toJson({ ...info, token: secret }));
      else {
        ctx.io.out(`token ${info.name} (${info.role}, ${info.id}):`);
        ctx.io.out(secret);
        ctx.io.out('(shown once; send it as "Authorization: Bearer <token>")');
      }
      return EXIT.ok;
    })));
  token.command('list')
    .description('every token: id, name, role, created, last used, revoked (never the token)')
    .action(runs(runtime, (ctx) => withState(ctx, async (state) => {
      const { TokenStore } = await import('../server/auth/token-store.js');
      const tokens = await new TokenStore(state).list();
      if (ctx.json) ctx.io.out(toJson(tokens));
      else if (tokens.length === 0) ctx.io.out('no tokens (datakeep serve creates the first admin token)');
      else for (const t of tokens) ctx.io.out(`${t.id}  ${t.name.padEnd(20)} ${t.role.padEnd(8)} created ${t.createdAt.toISOString()}  last used ${t.lastUsedAt?.toISOString() ?? 'never'}${t.revokedAt ? `  REVOKED ${t.revokedAt.toISOString()}` : ''}`);
      return EXIT.ok;
    })));
  token.command('revoke')
    .description('revoke a token by id or name (a running service refuses it at its next request)')
    .argument('<id|name>', 'the token id (tok_...) or name')
    .action(runs(runtime, (ctx, command) => withState(ctx, async (state) => {
      const { TokenStore } = await import('../server/auth/token-store.js');
      const info = await new TokenStore(state).revoke(command.args[0]!);
      ctx.io.out(ctx.json ? toJson(info) : `revoked ${info.name} (${info.id})`);
      return EXIT.ok;
    })));

  program.command('audit')
    .description('the audit log, newest first: who changed what, when, with which arguments (secrets redacted), and the outcome')
    .option('--limit <n>', 'how many entries (default 50, at most 10000)')
    .option('--action <action>', 'only this action (backup.create) or prefix ending in "." (backup.)')
    .action(runs(runtime, (ctx, command) => withState(ctx, async (state) => {
      const flags = command.opts<{ limit?: string; action?: string }>();
      const entries = await state.auditLog(integerOption('--limit', flags.limit, 1, 10_000) ?? 50, { action: flags.action });
      if (ctx.json) ctx.io.out(toJson(entries));
      else if (entries.length === 0) ctx.io.out('no audit entries');
      else {
        for (const e of entries) {
          ctx.io.out(`${e.at.toISOString()}  ${e.outcome.padEnd(9)} ${e.action.padEnd(22)} ${e.target ?? '-'}  by ${e.actor}${e.dryRun ? '  (dry run)' : ''}  ${JSON.stringify(e.details)}`);
        }
      }
      return EXIT.ok;
    })));
}

async function withState(ctx: CommandContext, fn: (state: StateStore) => Promise<number>): Promise<number> {
  const config = await loadCliConfig(ctx);
  const [{ StateStore }, { createStderrLogger }] = await Promise.all([import('../state/state-store.js'), import('../util/logger.js')]);
  let state: StateStore;
  try {
    state = await StateStore.open({ url: config.state.url, dir: config.state.dir }, createStderrLogger(config.logLevel));
  } catch (error) {
    // The embedded state store belongs to one process: the running service, usually.
    if (!config.state.url && /in use by process/.test((error as Error).message)) {
      const { StateError } = await import('../errors/index.js');
      throw new StateError(`${(error as Error).message}; while "datakeep serve" holds the embedded state store, use its API (GET/POST /api/v1/tokens, GET /api/v1/audit) or share a PostgreSQL state store (state.url)`, { cause: error });
    }
    throw error;
  }
  try {
    return await fn(state);
  } finally {
    await state.close();
  }
}
