/**
 * Why a policy's `where` is not one SQL expression, or undefined when it is. The condition is spliced into the
 * driver's statements (SELECT, DELETE) between parentheses, so it must stay inside them: no statement separator, no
 * comment (which could hide the rest of the statement, e.g. the key list of a DELETE), no placeholder, and no
 * parenthesis closed that it did not open. String literals and quoted identifiers may hold anything.
 */
export function mariadbConditionProblem(condition: string): string | undefined {
  let depth = 0;
  let i = 0;
  const n = condition.length;
  while (i < n) {
    const c = condition[i]!;
    if (c === "'" || c === '"') {
      i += 1;
      while (i < n && condition[i] !== c) i += condition[i] === '\\' ? 2 : 1;
      if (i >= n) return `a ${c === "'" ? 'string' : 'double-quoted string'} is not closed`;
      i += 1;
    } else if (c === '`') {
      const end = condition.indexOf('`', i + 1);
      if (end < 0) return 'a quoted identifier is not closed';
      i = end + 1;
    } else if (c === ';') {
      return 'it holds ";": a condition is one expression, not statements';
    } else if (c === '#' || (c === '-' && condition[i + 1] === '-') || (c === '/' && condition[i + 1] === '*')) {
      return 'it holds a comment, which could hide the rest of the statement the condition goes into';
    } else if (c === '?') {
      return 'it holds a "?" placeholder; write the value into the condition';
    } else if (c === '(') {
      depth += 1;
      i += 1;
    } else if (c === ')') {
      depth -= 1;
      if (depth < 0) return 'it closes a parenthesis it did not open';
      i += 1;
    } else {
      i += 1;
    }
  }
  return depth === 0 ? undefined : 'a parenthesis is not closed';
}
