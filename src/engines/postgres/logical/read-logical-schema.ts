import type { LogicalSchema, LogicalSequence, LogicalStatement, LogicalTable } from './logical-schema.js';
import type { LogicalSession } from './logical-session.js';
import { selectTables } from './select-tables.js';

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'`;
/** Objects of extensions are the extension's (CREATE EXTENSION makes them again). */
const NOT_EXTENSION = (oid: string) => `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

type TableRow = { oid: number; schema: string; table: string; name: string; kind: 'r' | 'p'; unlogged: boolean; pages: number | string; parent: string | null; bound: string | null; partkey: string | null };
type ColumnRow = { rel: number; name: string; type: string; notnull: boolean; identity: string; generated: string; def: string | null; collation: string | null; local: boolean; seq: string | null; seqlast: string | null; seqopts: string | null };

/**
 * Reads the chosen tables' definitions in the snapshot's transaction: columns (types, collations, defaults, identity,
 * generated), partitioning, constraints and indexes (to create after the data), the sequences they use with their
 * values, and the enum types of their columns. Names come out schema-qualified (search_path is pg_catalog for the
 * transaction), so the statements mean the same on any target. Views, functions, triggers, policies, grants, comments,
 * domains and composite types are not captured (docs/backups.md says so); large objects are not either.
 */
export async function readLogicalSchema(session: LogicalSession, wanted: readonly string[] | undefined): Promise<LogicalSchema> {
  await session.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
  const version = (await session.query<{ v: string }>(`SELECT current_setting('server_version') AS v`))[0]!.v;
  const rows = await session.query<TableRow>(`
    SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS "table", format('%I.%I', n.nspname, c.relname) AS name,
      c.relkind AS kind, c.relpersistence = 'u' AS unlogged,
      (pg_relation_size(c.oid) / current_setting('block_size')::int) AS pages,
      (SELECT format('%I.%I', pn.nspname, p.relname) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition) AS parent,
      CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
      CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND ${USER_SCHEMAS} AND ${NOT_EXTENSION('c.oid')}
    ORDER BY n.nspname, c.relname`);
  const chosen = selectTables(rows.map((r) => ({ ...r, parent: r.parent ?? undefined })), wanted, 'tables', 'the database');
  const oids = chosen.map((t) => t.oid);
  // As pg_dump does: a table dropped or altered while its rows are copied would break the backup; a lock held for the
  // snapshot's life stops that (writers are not blocked). A DDL holding its table longer than a minute fails the backup.
  if (chosen.length > 0) {
    await session.query(`SELECT set_config('lock_timeout', '60s', true)`);
    await session.query(`LOCK TABLE ${chosen.map((t) => t.name).join(', ')} IN ACCESS SHARE MODE`);
  }

  const columns = await session.query<ColumnRow>(`
    SELECT a.attrelid::int AS rel, quote_ident(a.attname) AS name, format_type(a.atttypid, a.atttypmod) AS type,
      a.attnotnull AS notnull, a.attidentity AS identity, a.attgenerated AS generated, a.attislocal AS local,
      pg_get_expr(ad.adbin, ad.adrelid) AS def,
      CASE WHEN a.attcollation <> t.typcollation THEN
        (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation,
      s.seq, s.seqlast, s.seqopts
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    LEFT JOIN LATERAL (
      SELECT format('%I.%I', ps.schemaname, ps.sequencename) AS seq, ps.last_value::text AS seqlast,
        format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s', ps.data_type::regtype, ps.increment_by, ps.min_value, ps.max_value, ps.start_value, ps.cache_size, CASE WHEN ps.cycle THEN ' CYCLE' ELSE '' END) AS seqopts
      FROM pg_depend d JOIN pg_class sc ON sc.oid = d.objid JOIN pg_namespace sn ON sn.oid = sc.relnamespace
      JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = sc.relname
      WHERE a.attidentity <> '' AND d.classid = 'pg_class'::regclass AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
    ) s ON true
    WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attrelid, a.attnum`, [oids]);

  const constraints = await session.query<{ rel: number; sql: string; contype: string; references: string | null }>(`
    SELECT co.conrelid::int AS rel, format('ALTER TABLE %s ADD CONSTRAINT %I %s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid)) AS sql,
      co.contype, CASE WHEN co.contype = 'f' THEN format('%I.%I', fn.nspname, fc.relname) END AS "references"
    FROM pg_constraint co LEFT JOIN pg_class fc ON fc.oid = co.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE co.conrelid = ANY($1::oid[]) AND co.contype IN ('p', 'u', 'x', 'c', 'f') AND co.conislocal AND co.conparentid = 0
    ORDER BY co.conrelid, co.contype, co.conname`, [oids]);
  const indexes = await session.query<{ rel: number; sql: string }>(`
    SELECT i.indrelid::int AS rel, pg_get_indexdef(i.indexrelid) AS sql FROM pg_index i
    WHERE i.indrelid = ANY($1::oid[])
      AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x'))
      AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
    ORDER BY i.indrelid, i.indexrelid`, [oids]);

  // Sequences the tables' defaults use (SERIAL and nextval('...')) and those they own, with their definitions.
  const sequences = await session.query<{ name: string; opts: string; last: string | null; tables: string[]; owned: string | null }>(`
    SELECT format('%I.%I', ps.schemaname, ps.sequencename) AS name, ps.last_value::text AS last,
      format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s', ps.data_type::regtype, ps.increment_by, ps.min_value, ps.max_value, ps.start_value, ps.cache_size, CASE WHEN ps.cycle THEN ' CYCLE' ELSE '' END) AS opts,
      ARRAY(SELECT DISTINCT format('%I.%I', tn.nspname, tc.relname) FROM pg_depend d
        JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
        JOIN pg_class tc ON tc.oid = ad.adrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = sc.oid
        UNION SELECT format('%I.%I', tn.nspname, tc.relname) FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        WHERE d.classid = 'pg_class'::regclass AND d.objid = sc.oid AND d.deptype = 'a') AS tables,
      (SELECT format('%I.%I.%I', tn.nspname, tc.relname, at.attname) FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace JOIN pg_attribute at ON at.attrelid = tc.oid AND at.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.objid = sc.oid AND d.deptype = 'a' AND d.refobjsubid > 0) AS owned
    FROM pg_class sc JOIN pg_namespace n ON n.oid = sc.relnamespace
    JOIN pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = sc.relname
    WHERE sc.relkind = 'S' AND ${USER_SCHEMAS} AND ${NOT_EXTENSION('sc.oid')}
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = sc.oid AND d.deptype = 'i')
    ORDER BY 1`);

  const types = await session.query<{ name: string; create: string }>(`
    SELECT DISTINCT format('%I.%I', n.nspname, t.typname) AS name,
      format('CREATE TYPE %I.%I AS ENUM (%s)', n.nspname, t.typname,
        (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)) AS "create"
    FROM pg_attribute a JOIN pg_type t ON (t.oid = a.atttypid OR t.typarray = a.atttypid) AND t.typtype = 'e'
    JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY 1`, [oids]);

  const byOid = new Map<number, ColumnRow[]>();
  for (const c of columns) byOid.set(c.rel, [...(byOid.get(c.rel) ?? []), c]);
  const tables: LogicalTable[] = chosen.map((t) => {
    const cols = byOid.get(t.oid) ?? [];
    const after: LogicalStatement[] = [
      ...constraints.filter((c) => c.rel === t.oid && c.contype !== 'c' && c.contype !== 'f').map((c) => ({ sql: c.sql, kind: 'key' as const })),
      // An index of a partitioned table reads "ON ONLY": made without ONLY, it is made on every partition too.
      ...indexes.filter((i) => i.rel === t.oid).map((i) => ({ sql: t.kind === 'p' ? i.sql.replace(/ ON ONLY /, ' ON ') : i.sql, kind: 'key' as const })),
      ...constraints.filter((c) => c.rel === t.oid && c.contype === 'c').map((c) => ({ sql: c.sql, kind: 'check' as const })),
      ...constraints.filter((c) => c.rel === t.oid && c.contype === 'f').map((c) => ({ sql: c.sql, kind: 'foreign-key' as const, references: c.references ?? undefined })),
    ];
    return {
      name: t.name, schema: t.schema, table: t.table, kind: t.kind, parent: t.parent,
      create: createTable(t, cols),
      columns: cols.filter((c) => c.generated === '').map((c) => c.name),
      pages: Number(t.pages),
      after,
      identities: cols.filter((c) => c.identity !== '' && c.local).map((c) => ({ column: c.name, lastValue: c.seqlast })),
    };
  });
  const names = new Set(tables.map((t) => t.name));
  const used: LogicalSequence[] = sequences
    .filter((s) => wanted === undefined || wanted.length === 0 || s.tables.some((t) => names.has(t)))
    .map((s) => ({ name: s.name, create: `CREATE SEQUENCE ${s.name} ${s.opts}`, lastValue: s.last, tables: s.tables, ownedBy: s.owned ?? undefined }));
  const schemas = [...new Set([...tables.map((t) => t.schema), ...used.map((s) => s.name.split('.')[0]!), ...types.map((t) => t.name.split('.')[0]!)])];
  return { formatVersion: 1, serverVersion: version, schemas: schemas.map(unquoteSchema).filter((s) => s !== 'public'), types, sequences: used, tables: orderParentsFirst(tables) };
}

function createTable(t: Omit<TableRow, 'parent'> & { parent: string | undefined }, cols: readonly ColumnRow[]): string {
  const partitionBy = t.partkey ? ` PARTITION BY ${t.partkey}` : '';
  if (t.parent && t.bound) return `CREATE TABLE ${t.name} PARTITION OF ${t.parent} ${t.bound}${partitionBy}`;
  // Plain inheritance is not recreated: a child gets its inherited columns as its own.
  const defs = cols.map((c) => {
    let def = `${c.name} ${c.type}`;
    if (c.collation) def += ` COLLATE ${c.collation}`;
    if (c.generated === 's') def += ` GENERATED ALWAYS AS (${c.def}) STORED`;
    else if (c.identity !== '') def += ` GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${c.seqopts ? ` (${c.seqopts.replace(/^AS \S+ /, '')})` : ''}`;
    else if (c.def !== null) def += ` DEFAULT ${c.def}`;
    if (c.notnull) def += ' NOT NULL';
    return def;
  });
  return `CREATE ${t.unlogged ? 'UNLOGGED ' : ''}TABLE ${t.name} (${defs.join(', ')})${partitionBy}`;
}

function orderParentsFirst(tables: LogicalTable[]): LogicalTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const depth = (t: LogicalTable): number => (t.parent && byName.has(t.parent) ? 1 + depth(byName.get(t.parent)!) : 0);
  return [...tables].sort((a, b) => depth(a) - depth(b));
}

function unquoteSchema(quoted: string): string {
  return quoted.startsWith('"') ? quoted.slice(1, -1).replace(/""/g, '"') : quoted;
}
