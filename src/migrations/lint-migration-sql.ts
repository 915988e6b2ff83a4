/**
 * Static checks of migration SQL. Comments, string literals and dollar-quoted bodies are blanked first so that
 * words inside them never match. These are warnings a reviewer should see, except CONCURRENTLY inside a
 * transactional migration, which PostgreSQL would reject midway and is refused before anything runs.
 */
export interface LintResult {
  readonly warnings: string[];
  /** The first statement found that PostgreSQL refuses inside a transaction block, if any. */
  readonly cannotRunInTransaction: string | undefined;
}

export function lintMigrationSql(sql: string): LintResult {
  const code = blankNonCode(sql);
  const warnings: string[] = [];
  const created = new Set<string>();
  for (const m of code.matchAll(/\bCREATE\s+(?:UNLOGGED\s+|TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w."]+)/gi)) {
    created.add(normaliseName(m[1]!));
  }
  for (const m of code.matchAll(/\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([\w.", ]+)/gi)) {
    warnings.push(`destructive: DROP TABLE ${m[1]!.trim()} deletes the table and its data`);
  }
  for (const m of code.matchAll(/\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w."]+)[^;]*?\bDROP\s+(?:COLUMN\s+)?(?!CONSTRAINT\b|DEFAULT\b|NOT\b|IDENTITY\b|EXPRESSION\b)(?:IF\s+EXISTS\s+)?([\w"]+)/gi)) {
    warnings.push(`destructive: ALTER TABLE ${m[1]} DROP COLUMN ${m[2]} deletes the column's data`);
  }
  for (const m of code.matchAll(/\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w."]+)[^;]*?\bALTER\s+(?:COLUMN\s+)?([\w"]+)\s+(?:SET\s+DATA\s+)?TYPE\b/gi)) {
    warnings.push(`locking: ALTER TABLE ${m[1]} ALTER COLUMN ${m[2]} TYPE may rewrite the table under an ACCESS EXCLUSIVE lock`);
  }
  for (const m of code.matchAll(/\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:[\w"]+\s+)?ON\s+(?:ONLY\s+)?([\w."]+)/gi)) {
    if (!m[1] && !created.has(normaliseName(m[2]!))) {
      warnings.push(`locking: CREATE INDEX on existing table ${m[2]} without CONCURRENTLY blocks writes while it builds; use CREATE INDEX CONCURRENTLY in a transaction:false migration`);
    }
  }
  for (const m of code.matchAll(/\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w."]+)([^;]*)/gi)) {
    for (const add of m[2]!.matchAll(/\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?([\w"]+)([^,;]*)/gi)) {
      const rest = add[2]!;
      if (/\bNOT\s+NULL\b/i.test(rest) && !/\bDEFAULT\b/i.test(rest) && !/^\s*(CONSTRAINT|PRIMARY|UNIQUE|FOREIGN|CHECK)\b/i.test(add[1]!)) {
        warnings.push(`fails on non-empty tables: ALTER TABLE ${m[1]} ADD COLUMN ${add[1]} NOT NULL without a DEFAULT`);
      }
    }
  }
  const outside = /\b(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b|\bREINDEX\b[^;]*\bCONCURRENTLY\b|\bVACUUM\b|\bCREATE\s+DATABASE\b|\bDROP\s+DATABASE\b|\bALTER\s+SYSTEM\b/i.exec(code);
  return { warnings, cannotRunInTransaction: outside ? outside[0].replace(/\s+/g, ' ').toUpperCase() : undefined };
}

function normaliseName(name: string): string {
  const parts = name.replace(/"/g, '').toLowerCase().split('.');
  return parts[parts.length - 1]!;
}

/** Replaces comments, string literals and dollar-quoted bodies with spaces (keeping offsets). */
export function blankNonCode(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const rest = sql.slice(i, i + 2);
    let end = -1;
    if (rest === '--') end = ((n) => (n === -1 ? sql.length : n))(sql.indexOf('\n', i));
    else if (rest === '/*') end = ((n) => (n === -1 ? sql.length : n + 2))(sql.indexOf('*/', i + 2));
    else if (c === "'") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === "'" && sql[j + 1] !== "'")) j += sql[j] === "'" ? 2 : sql[j] === '\\' && /[eE]/.test(sql[i - 1] ?? '') ? 2 : 1;
      end = j + 1;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close === -1 ? sql.length : close + tag[0].length;
      }
    }
    if (end > i) {
      out += sql.slice(i, end).replace(/[^\n]/g, ' ');
      i = end;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}
