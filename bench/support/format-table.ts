export type Align = 'left' | 'right';

/** One row padded to `widths`; for tables printed line by line while a benchmark is still running. */
export function formatRow(cells: readonly string[], widths: readonly number[], align: readonly Align[] = [], indent = ''): string {
  const padded = widths.map((w, i) => {
    const cell = cells[i] ?? '';
    return (align[i] ?? (i === 0 ? 'left' : 'right')) === 'right' ? cell.padStart(w) : cell.padEnd(w);
  });
  return `${indent}${padded.join('  ')}`.trimEnd();
}

/**
 * A plain-text table for terminals and for pasting into Markdown: `markdown: true` adds pipes and the separator row
 * (with `:` on right-aligned columns), otherwise columns are separated by two spaces under a dashed rule.
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: { align?: readonly Align[]; markdown?: boolean; indent?: string } = {},
): string {
  const align: Align[] = headers.map((_, i) => options.align?.[i] ?? (i === 0 ? 'left' : 'right'));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const indent = options.indent ?? '';
  if (options.markdown) {
    const pad = (cell: string, i: number) => (align[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!));
    const line = (cells: readonly string[]) => `${indent}| ${headers.map((_, i) => pad(cells[i] ?? '', i)).join(' | ')} |`;
    const rule = `${indent}|${widths.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
    return [line(headers), rule, ...rows.map(line)].join('\n');
  }
  const rule = `${indent}${widths.map((w) => '-'.repeat(w)).join('  ')}`;
  return [formatRow(headers, widths, align, indent), rule, ...rows.map((r) => formatRow(r, widths, align, indent))].join('\n');
}
