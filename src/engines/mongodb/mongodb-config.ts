import { z } from 'zod';
import { issueAt } from '../../config/config-fields.js';
import type { EngineConfig } from '../../config/engine-config.js';
import { hint } from '../../config/parse-config.js';

/** Default cap on the total time of one `transaction()` call, the value the driver specification uses. */
export const DEFAULT_TRANSACTION_TIME_LIMIT_MS = 120_000;

/** The MongoDB options of a database configuration, checked. */
export interface MongodbSettings {
  readonly replicaSet: string | undefined;
  readonly authSource: string | undefined;
  readonly directConnection: boolean | undefined;
  readonly transactionTimeLimitMs: number;
}

function name(fix: string) {
  const error = () => hint('must be a non-empty string', fix);
  return z.string({ error }).min(1, { error });
}

const options = z.object({
  replicaSet: name('Give the replica set name as rs.status().set reports it, e.g. "rs0"').optional(),
  authSource: name('Give the database the user was created in, e.g. "admin"').optional(),
  directConnection: z
    .boolean({ error: () => hint('must be true or false', 'Write directConnection: true to talk to exactly this host, false to discover the replica set') })
    .optional(),
  transactionTimeLimitMs: z
    .int({ error: () => hint('must be an integer >= 1 (milliseconds)', `Give e.g. ${DEFAULT_TRANSACTION_TIME_LIMIT_MS} (the default)`) })
    .min(1)
    .default(DEFAULT_TRANSACTION_TIME_LIMIT_MS),
});

/** MongoDB: its options, a password only with a username, and no replicaSet with directConnection. */
export const mongodbConfig: EngineConfig<MongodbSettings> = {
  optionKeys: Object.keys(options.shape),
  url: { hostList: true },
  settings: z
    .object({ username: z.string().optional(), password: z.string().optional(), options })
    .transform((config, ctx): MongodbSettings => {
      if (config.password !== undefined && config.username === undefined) {
        issueAt(ctx, ['username'], 'is missing while a password is given', 'Give the username the password belongs to');
      }
      const o = config.options;
      if (o.replicaSet !== undefined && o.directConnection === true) {
        issueAt(ctx, ['options', 'directConnection'], 'is true together with replicaSet', 'Remove one: replicaSet discovers the set from the host, directConnection talks to that host only');
      }
      return Object.freeze({ replicaSet: o.replicaSet, authSource: o.authSource, directConnection: o.directConnection, transactionTimeLimitMs: o.transactionTimeLimitMs });
    }),
};
