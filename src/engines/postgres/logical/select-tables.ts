import { UsageError } from '../../../errors/index.js';

interface Named {
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly parent: string | undefined;
}

/**
 * The tables `wanted` names (`schema.table`, or `table` when one schema has it), with what they need: a partitioned
 * table brings its partitions, a partition its ancestors (created first, without their other partitions' rows). No
 * filter: all of them. An unknown or ambiguous name is refused with the names that exist, before anything is done.
 */
export function selectTables<T extends Named>(all: readonly T[], wanted: readonly string[] | undefined, field: string, where: string): T[] {
  if (wanted === undefined || wanted.length === 0) return [...all];
  const byName = new Map(all.map((t) => [t.name, t]));
  const chosen = new Set<string>();
  for (const raw of wanted) {
    const text = raw.trim();
    const dot = splitQualified(text);
    const matches = all.filter((t) => (dot ? t.schema === dot[0] && t.table === dot[1] : t.table === text));
    if (matches.length === 0) {
      const known = all.map((t) => `${t.schema}.${t.table}`);
      throw new UsageError(field, `no table "${text}" in ${where} (there are: ${known.slice(0, 20).join(', ') || 'none'}${known.length > 20 ? ', …' : ''}); give schema.table or a table name`);
    }
    const inPublic = matches.filter((t) => t.schema === 'public');
    if (matches.length > 1 && inPublic.length !== 1) {
      throw new UsageError(field, `"${text}" names tables in several schemas (${matches.map((t) => t.schema).join(', ')}); write it as schema.table`);
    }
    const match = matches.length === 1 ? matches[0]! : inPublic[0]!;
    for (let t: T | undefined = match; t; t = t.parent ? byName.get(t.parent) : undefined) chosen.add(t.name);
    const descendants = [match.name];
    while (descendants.length) {
      const parent = descendants.pop()!;
      for (const t of all) if (t.parent === parent && !chosen.has(t.name)) { chosen.add(t.name); descendants.push(t.name); }
    }
  }
  return all.filter((t) => chosen.has(t.name));
}

/** `schema.table` split at the dot (quotes allowed around either part); undefined for a bare name. */
function splitQualified(text: string): [string, string] | undefined {
  const match = /^("(?:[^"]|"")+"|[^."]+)\.("(?:[^"]|"")+"|[^."]+)$/.exec(text);
  if (!match) return undefined;
  const unquote = (part: string) => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part);
  return [unquote(match[1]!), unquote(match[2]!)];
}
