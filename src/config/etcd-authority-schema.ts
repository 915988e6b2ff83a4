import { z } from 'zod';
import { integer, list, nonEmptyText, object, oneOf, text } from './config-fields.js';
import { hint } from './parse-config.js';

/** The lease TTL's floor: etcd refuses shorter leases (about 1.5 election timeouts), and a holder must keep it alive in thirds. */
export const MIN_LEASE_TTL_MS = 2000;
export const DEFAULT_LEASE_TTL_MS = 10_000;
export const DEFAULT_ETCD_PREFIX = '/datakeep/';

const endpoint = text('Write each endpoint as a URL such as "http://127.0.0.1:2379"').refine((url) => /^https?:\/\/[^/\s]+\/?$/i.test(url), {
  error: () => hint('is not an etcd client URL', 'Write it as http://HOST:PORT (or https://HOST:PORT), e.g. "http://127.0.0.1:2379"'),
});

/**
 * `replication.authority` as users write it (EtcdAuthorityConfig in src/replication/replication-types.ts). `cluster`
 * stays optional here: its default (the primary database's id) is known only to the replication section.
 */
export const etcdAuthoritySchema = object(
  {
    type: oneOf(['etcd'], 'an authority type', 'Write "type": "etcd"'),
    endpoints: list(endpoint, 'Write "endpoints": ["http://127.0.0.1:2379"]', 'an array of etcd URLs').min(1, {
      error: () => hint('is empty', 'Give at least one etcd URL, e.g. ["http://127.0.0.1:2379"]'),
    }),
    prefix: nonEmptyText('Write a key prefix such as "/datakeep/"').optional(),
    cluster: nonEmptyText('Write the cluster name, e.g. "orders"')
      .refine((name) => !name.includes('/'), { error: () => hint('contains "/"', 'Use a name without "/": it is one segment of the etcd keys') })
      .optional(),
    leaseTtl: integer(MIN_LEASE_TTL_MS, 3_600_000, ' (milliseconds)').optional(),
    username: nonEmptyText('Write the etcd user name').optional(),
    password: text().optional(),
  },
  'Write "authority": {"type": "etcd", "endpoints": ["http://127.0.0.1:2379"]}',
).refine((config) => (config.username === undefined) === (config.password === undefined), {
  path: ['password'],
  error: () => hint('username and password must be given together', 'Give both username and password, or neither'),
});

export type EtcdAuthorityInput = z.input<typeof etcdAuthoritySchema>;
