import { BSON, type Db, type Document } from 'mongodb';

const { EJSON } = BSON;

/** One collection or view of a backup: what restore needs to create it as it was. */
export interface CatalogEntry {
  readonly name: string;
  readonly type: 'collection' | 'view' | 'timeseries';
  /** listCollections' options (capped, size, validator, collation, viewOn, pipeline, timeseries, ...). */
  readonly options: Document;
  /** listIndexes' specifications, the `_id` index included (restore skips it: every collection has one). */
  readonly indexes: readonly Document[];
  /** The repository file holding the documents (undefined for a view). */
  readonly file: string | undefined;
  /** Documents written to the file. */
  documents: number;
}

/** The catalog is stored as a manifest blob, in canonical Extended JSON so that every BSON type comes back exactly. */
export const CATALOG_BLOB = 'mongodb-catalog';

/**
 * The collections and views of `db` that a backup copies: not `system.*` (profiler output, the server's own views
 * catalog, which listCollections already reports as views). Views last, as restore must create them after what
 * they read.
 */
export async function readCatalog(db: Db): Promise<CatalogEntry[]> {
  const listed = await db.listCollections({}, { nameOnly: false }).toArray();
  const entries: CatalogEntry[] = [];
  for (const info of listed as Document[]) {
    const name = String(info.name);
    if (name.startsWith('system.')) continue;
    const type = info.type === 'view' ? 'view' : info.type === 'timeseries' ? 'timeseries' : 'collection';
    const indexes = type === 'view' ? [] : await db.collection(name).listIndexes().toArray();
    entries.push({ name, type, options: (info.options as Document | undefined) ?? {}, indexes, file: type === 'view' ? undefined : collectionFile(name), documents: 0 });
  }
  return entries.sort((a, b) => Number(a.type === 'view') - Number(b.type === 'view') || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Collection names may hold characters a repository path may not ('/', '..'): they are percent-encoded. */
export function collectionFile(name: string): string {
  return `collections/${encodeURIComponent(name).replace(/\./g, '%2E')}.bson`;
}

export function encodeCatalog(database: string, entries: readonly CatalogEntry[]): string {
  return EJSON.stringify({ version: 1, database, collections: entries }, { relaxed: false });
}

export function decodeCatalog(text: string): { database: string; collections: CatalogEntry[] } {
  const parsed = EJSON.parse(text, { relaxed: false }) as { database: string; collections: CatalogEntry[] };
  return parsed;
}
