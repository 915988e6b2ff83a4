import { ConfigurationError } from '../errors/index.js';

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

/** A table name datakeep may interpolate into SQL: `name` or `schema.name`, plain identifiers only. */
export function validateTableName(tableName: string, field = 'migrations.tableName'): string {
  if (!TABLE_NAME.test(tableName)) {
    throw new ConfigurationError(field, `"${tableName}" is not a plain table name`, 'Use letters, digits and _ (optionally schema.table), starting with a letter or _');
  }
  return tableName;
}
