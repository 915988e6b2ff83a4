import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { EngineDefinition } from '../engines/engine-definition.js';
import { isSecretKey } from '../util/secrets.js';
import { passwordFromFileText } from './credential-source.js';
import { byKind, flag, integer, issueAt, nonEmptyText, object, oneOf, secretText, text } from './config-fields.js';
import type { TlsConfig } from './database-config.js';
import { hint } from './parse-config.js';

const MS = ' (milliseconds)';
export const ISOLATION_LEVELS = ['read uncommitted', 'read committed', 'repeatable read', 'serializable'] as const;
const SSL_FIX = 'Write ssl: true, or an object with PEM text or file paths';

/** The facts of an engine this schema reads. */
export type EngineFacts = Pick<EngineDefinition, 'type' | 'networked' | 'defaultPort' | 'defaultDatabase' | 'config'>;

const tls = object(
  { ca: text().optional(), cert: text().optional(), key: secretText().optional(), rejectUnauthorized: flag().optional(), servername: text().optional() },
  SSL_FIX,
).transform((value, ctx): Readonly<TlsConfig> => {
  const out: TlsConfig = { rejectUnauthorized: value.rejectUnauthorized ?? true };
  for (const key of ['ca', 'cert', 'key'] as const) {
    const pem = value[key];
    if (pem === undefined) continue;
    // PEM text is used as given; anything else is a file path, read now so that a bad path fails at configuration time.
    if (pem.includes('-----BEGIN')) out[key] = pem;
    else {
      try {
        out[key] = readFileSync(pem, 'utf8');
      } catch (cause) {
        issueAt(ctx, [key], `file "${pem}" cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Give PEM text or a readable file path');
        return z.NEVER;
      }
    }
  }
  if (value.servername !== undefined) out.servername = value.servername;
  if ((out.cert === undefined) !== (out.key === undefined)) {
    issueAt(ctx, [], 'has cert without key (or key without cert)', 'Give both cert and key for client certificate authentication');
    return z.NEVER;
  }
  // The key's text is a secret too: readable by the drivers, never enumerated (JSON, spreading, config check).
  if (out.key !== undefined) Object.defineProperty(out, 'key', { value: out.key, enumerable: false });
  return Object.freeze(out);
});

const ssl = byKind<false | Readonly<TlsConfig>>(
  { boolean: z.boolean().transform((on) => (on ? Object.freeze({ rejectUnauthorized: true }) : false)), object: tls },
  'true, false or {ca, cert, key, rejectUnauthorized}',
  SSL_FIX,
);

const circuitBreaker = object(
  { failureThreshold: integer(1, 1000).default(5), resetTimeout: integer(1, 3_600_000, MS).default(10_000) },
  'Give {failureThreshold, resetTimeout}',
).prefault({});

const databaseName = nonEmptyText('Give the database name');

/**
 * One database entry, with the URL's fields already merged under the explicit ones, for one engine: every field's
 * type, range and default, the engine's `database` and `dataDir` rules and its `options` keys. The engine's rules
 * over its options' values run afterwards, on the resolved configuration (EngineConfig.settings).
 */
export function databaseSchema(engine: EngineFacts, dataDirEngines: readonly string[]) {
  const hooks = engine.config;
  const optionKeys = Object.fromEntries(hooks.optionKeys.map((key) => [key, z.unknown().optional()]));
  return object(
    {
      type: text().optional(),
      host: engine.networked
        ? nonEmptyText('Give the server\'s host name or IP address, e.g. "localhost" (or a url)')
        : text().optional().transform(() => 'embedded'),
      port: integer(1, 65535).default(engine.defaultPort),
      database: (hooks.database ?? databaseName).default(engine.defaultDatabase),
      username: text().optional(),
      password: secretText().optional(),
      ssl: ssl.default(false),
      poolSize: integer(1, 10_000).default(10),
      timeout: integer(1, 3_600_000, MS).default(10_000),
      retryAttempts: integer(0, 100).default(3),
      id: nonEmptyText('Give a non-empty id or leave it out').optional(),
      url: text().optional(),
      passwordFile: text().optional(),
      default: flag().default(false),
      statementTimeout: integer(1, 2_147_483_647, MS).optional(),
      applicationName: text().default('datakeep'),
      circuitBreaker,
      isolationLevel: oneOf(ISOLATION_LEVELS, 'an isolation level').optional(),
      dataDir: hooks.dataDir
        ? text().optional().transform(hooks.dataDir)
        : z.undefined({ error: () => hint(`applies only to type ${dataDirEngines.join(', ')}, not ${engine.type}`, 'Remove dataDir') }).optional(),
      options: object(optionKeys, 'Give engine-specific options as an object').optional().transform(frozenOptions),
    },
    'Give {type, host, port, database, ...} or a URL such as postgres://user@localhost:5432/app',
    'an object or a URL string',
  ).transform((entry, ctx) => {
    let password = entry.password;
    let passwordFile: string | undefined;
    if (entry.passwordFile !== undefined) {
      if (password !== undefined) {
        issueAt(ctx, ['passwordFile'], 'is given together with password', 'Keep only one of password and passwordFile');
        return z.NEVER;
      }
      try {
        password = passwordFromFileText(readFileSync(entry.passwordFile, 'utf8'));
      } catch (cause) {
        issueAt(ctx, ['passwordFile'], `cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Check the path and its permissions');
        return z.NEVER;
      }
      if (password === '') {
        issueAt(ctx, ['passwordFile'], 'is empty', 'Write the password into the file, or remove passwordFile for no password');
        return z.NEVER;
      }
      passwordFile = entry.passwordFile;
    }
    return { ...entry, password, passwordFile };
  });
}

/** Options as given, frozen; secret ones (a Sentinel password) readable but never enumerated, like `password`. */
function frozenOptions(options: Record<string, unknown> | undefined): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    if (isSecretKey(key)) {
      Object.defineProperty(out, key, { value, enumerable: false });
    } else {
      out[key] = value;
    }
  }
  return Object.freeze(out);
}
