import { keyParameter, quoteIdentifier, type MariadbColumn } from './mariadb-column-codec.js';

/** `ORDER BY` list of the key, ascending or descending. */
export function keyOrder(key: readonly MariadbColumn[], direction: 'ASC' | 'DESC' = 'ASC'): string {
  return key.map((c) => `${quoteIdentifier(c.name)} ${direction}`).join(', ');
}

/**
 * "key after these values", written out as `k1 > ? OR (k1 = ? AND k2 > ?) ...`: the row-value comparison
 * `(k1, k2) > (?, ?)` means the same, but MariaDB's range optimizer does not use an index for it (EXPLAIN shows a full
 * index scan), which would make every batch read the table from its start.
 */
export function keyAfter(key: readonly MariadbColumn[], after: readonly unknown[]): { sql: string; params: unknown[] } {
  const terms: string[] = [];
  const params: unknown[] = [];
  key.forEach((column, i) => {
    const equal = key.slice(0, i).map((c) => `${quoteIdentifier(c.name)} = ${keyParameter(c)}`);
    terms.push([...equal, `${quoteIdentifier(column.name)} > ${keyParameter(column)}`].join(' AND '));
    params.push(...after.slice(0, i + 1));
  });
  return { sql: `(${terms.map((t) => `(${t})`).join(' OR ')})`, params };
}

/** "key is one of these" (a row-value IN list, which the range optimizer does use), with its parameters. */
export function keyIn(key: readonly MariadbColumn[], keys: readonly (readonly unknown[])[]): { sql: string; params: unknown[] } {
  const single = key.length === 1;
  const columns = single ? quoteIdentifier(key[0]!.name) : `(${key.map((c) => quoteIdentifier(c.name)).join(', ')})`;
  const one = single ? keyParameter(key[0]!) : `(${key.map(keyParameter).join(', ')})`;
  return { sql: `${columns} IN (${keys.map(() => one).join(', ')})`, params: keys.flatMap((k) => k.slice(0, key.length)) };
}
