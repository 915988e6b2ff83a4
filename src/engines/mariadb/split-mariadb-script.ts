/**
 * Splits SQL text into statements the way the `mariadb`/`mysql` command-line client does: at the delimiter (";" by
 * default) outside string literals, quoted identifiers and comments, with `DELIMITER xx` lines changing the delimiter
 * (for CREATE PROCEDURE/TRIGGER bodies that contain ";"). Chunks that hold only comments or whitespace are dropped;
 * executable comments (/*! ... *\/, /*M! ... *\/) count as statements.
 *
 * Splitting on the client keeps the driver's multipleStatements option off, which would otherwise let any SQL text
 * built by string concatenation run extra statements.
 */
export function splitMariadbScript(script: string): string[] {
  const statements: string[] = [];
  let delimiter = ';';
  let start = 0;
  let hasCode = false;
  let i = 0;
  const n = script.length;

  const push = (end: number) => {
    if (hasCode) statements.push(script.slice(start, end).trim());
    hasCode = false;
  };

  while (i < n) {
    if (!hasCode) {
      // A DELIMITER command is a client command on its own line, before any code of the next statement.
      const directive = /[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)/iy;
      directive.lastIndex = i;
      const match = directive.exec(script);
      if (match) {
        delimiter = match[1]!;
        i = directive.lastIndex;
        start = i;
        continue;
      }
    }
    const c = script[i]!;
    if (script.startsWith(delimiter, i)) {
      push(i);
      i += delimiter.length;
      start = i;
      continue;
    }
    if (c === "'" || c === '"') {
      hasCode = true;
      i += 1;
      while (i < n) {
        const d = script[i];
        if (d === '\\') i += 2;
        else if (d === c) break;
        else i += 1;
      }
      i += 1;
    } else if (c === '`') {
      hasCode = true;
      const end = script.indexOf('`', i + 1);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && script[i + 1] === '*') {
      if (script[i + 2] === '!' || (script[i + 2] === 'M' && script[i + 3] === '!')) hasCode = true;
      const end = script.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '#' || (c === '-' && script[i + 1] === '-' && !(script.charCodeAt(i + 2) > 0x20))) {
      const end = script.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else {
      if (c.charCodeAt(0) > 0x20) hasCode = true;
      i += 1;
    }
  }
  push(n);
  return statements;
}
