import { z } from 'zod';
import { byKind, integer, issueAt, list, nonEmptyText, object, secretText, text } from '../../config/config-fields.js';
import type { EngineConfig } from '../../config/engine-config.js';
import { hint } from '../../config/parse-config.js';

/** Sentinel mode, from `options` of a redis database configuration. */
export interface RedisSentinelSettings {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  readonly masterName: string;
  readonly sentinelUsername: string | undefined;
  readonly sentinelPassword: string | undefined;
}

const DB_FIX = 'Use a number such as "0"';
const dbIndexText = z.string().refine((text) => /^\d+$/.test(text) && Number.isSafeInteger(Number(text)), {
  error: (iss) => hint(`${JSON.stringify(iss.input)} is not a Redis database index`, DB_FIX),
});

/** `database` is the db index: 0, or "0" as a URL path gives it. */
const databaseIndex = byKind<string>({ number: z.number().transform(String).pipe(dbIndexText), string: dbIndexText }, 'a Redis database index', DB_FIX);

const sentinel = object(
  { host: nonEmptyText('Give the sentinel host as a string'), port: integer(1, 65535, ' (Sentinel listens on 26379 by default)') },
  'Give {host: "10.0.0.1", port: 26379}',
  '{host, port}',
);

const options = z.object({
  sentinels: list(sentinel, 'Give e.g. sentinels: [{host: "10.0.0.1", port: 26379}, ...] (use at least three sentinels in production)', 'a non-empty array of {host, port}')
    .min(1)
    .optional(),
  masterName: nonEmptyText('Give e.g. masterName: "mymaster" (the name in "sentinel monitor <name> ...")').optional(),
  sentinelUsername: text().optional(),
  sentinelPassword: secretText().optional(),
});

/**
 * Redis: the db index is a number the client can send, the client name has no spaces (CLIENT SETNAME refuses them),
 * isolationLevel does not apply, and Sentinel options are complete. The settings are the Sentinel settings, or
 * undefined for a direct connection.
 */
export const redisConfig: EngineConfig<RedisSentinelSettings | undefined> = {
  optionKeys: Object.keys(options.shape),
  database: databaseIndex,
  url: { tlsSchemes: ['rediss:'] },
  settings: z
    .object({
      applicationName: z.string().refine((name) => !/\s/.test(name), {
        error: (iss) => hint(`${JSON.stringify(iss.input)} contains whitespace, which Redis CLIENT SETNAME refuses`, 'Use a name without spaces, e.g. "my-app"'),
      }),
      isolationLevel: z.undefined({ error: () => hint('does not apply to redis (MULTI/EXEC has no isolation levels)', 'Remove isolationLevel from this database') }).optional(),
      options,
    })
    .transform(({ options: o }, ctx): RedisSentinelSettings | undefined => {
      if (o.sentinels === undefined && o.masterName === undefined) {
        for (const key of ['sentinelUsername', 'sentinelPassword'] as const) {
          if (o[key] !== undefined) {
            issueAt(ctx, ['options', key], 'is given without options.sentinels', 'Add options.sentinels and options.masterName, or remove it');
            return z.NEVER;
          }
        }
        return undefined;
      }
      if (o.sentinels === undefined) {
        issueAt(ctx, ['options', 'sentinels'], 'is missing while options.masterName is given', 'Give e.g. sentinels: [{host: "10.0.0.1", port: 26379}, ...], or remove masterName for a direct connection');
        return z.NEVER;
      }
      if (o.masterName === undefined) {
        issueAt(ctx, ['options', 'masterName'], 'is missing while options.sentinels is given', 'Give e.g. masterName: "mymaster" (the name in "sentinel monitor <name> ...")');
        return z.NEVER;
      }
      return Object.freeze({
        sentinels: Object.freeze(o.sentinels.map((s) => Object.freeze({ host: s.host, port: s.port }))),
        masterName: o.masterName,
        sentinelUsername: o.sentinelUsername,
        sentinelPassword: o.sentinelPassword,
      });
    }),
};
