import { UsageError } from '../errors/index.js';
import type { SqlPart } from './migration-types.js';

const MARKER = /^--\s*migrate:(up|down)\b(.*)$/;

/**
 * Splits a SQL migration into its `-- migrate:up` and optional `-- migrate:down` sections (dbmate's convention).
 * Options follow the marker: `-- migrate:up transaction:false`. A file without markers is all `up`.
 */
export function parseSqlMigration(text: string, file: string): { up: SqlPart; down: SqlPart | undefined } {
  const lines = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  const sections: Record<'up' | 'down', { lines: string[]; transaction: boolean } | undefined> = { up: undefined, down: undefined };
  let current: 'up' | 'down' | undefined;
  const preamble: string[] = [];
  lines.forEach((line, index) => {
    const match = MARKER.exec(line.trim());
    if (!match) {
      if (current) sections[current]!.lines.push(line);
      else preamble.push(line);
      return;
    }
    const direction = match[1] as 'up' | 'down';
    if (sections[direction]) {
      throw new UsageError(file, `line ${index + 1}: a second "-- migrate:${direction}" section; a file has at most one of each`);
    }
    let transaction = true;
    for (const option of match[2]!.trim().split(/\s+/).filter(Boolean)) {
      if (option === 'transaction:false') transaction = false;
      else if (option === 'transaction:true') transaction = true;
      else throw new UsageError(file, `line ${index + 1}: unknown option "${option}"; the only option is transaction:false`);
    }
    sections[direction] = { lines: [], transaction };
    current = direction;
  });
  if (!sections.up) {
    if (sections.down) throw new UsageError(file, 'has "-- migrate:down" but no "-- migrate:up" section');
    return { up: { sql: preamble.join('\n').trim(), transaction: true }, down: undefined };
  }
  if (preamble.some((l) => l.trim() !== '' && !l.trim().startsWith('--'))) {
    throw new UsageError(file, 'has SQL before "-- migrate:up"; move it into a section');
  }
  const up = { sql: sections.up.lines.join('\n').trim(), transaction: sections.up.transaction };
  const down = sections.down ? { sql: sections.down.lines.join('\n').trim(), transaction: sections.down.transaction } : undefined;
  if (up.sql === '') throw new UsageError(file, 'the "-- migrate:up" section is empty');
  return { up, down: down && down.sql !== '' ? down : undefined };
}
