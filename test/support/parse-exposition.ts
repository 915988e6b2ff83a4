/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * A small parser of the Prometheus text exposition format (0.0.4): HELP and TYPE lines open a family; each sample
 * must belong to the family declared last (histograms add _bucket, _sum and _count). Throws on anything else.
 */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: { name: string; help?: string; type?: string; samples: Sample[] } | undefined;
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const where = `line ${index + 1} (${line})`;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!current || current.name !== name) {
        if (families.has(name)) throw new Error(`${where}: family ${name} declared twice`);
        current = { name, samples: [] };
      }
      if (kind === 'HELP') current.help = rest;
      else current.type = rest;
      if (current.help !== undefined && current.type !== undefined) families.set(name, current as Family);
      continue;
    }
    if (line.startsWith('#')) throw new Error(`${where}: unknown comment`);
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`${where}: not a sample line`);
    const [, name, labelText = '', valueText] = match as unknown as [string, string, string | undefined, string];
    if (!current) throw new Error(`${where}: sample before any HELP/TYPE`);
    const allowed = current.type === 'histogram' ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`] : [current.name];
    if (!allowed.includes(name)) throw new Error(`${where}: sample ${name} outside its family ${current.name}`);
    const labels: Record<string, string> = {};
    for (const m of labelText.matchAll(LABEL)) labels[m[1]!] = m[2]!;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`${where}: value ${valueText} is not a number`);
    current.samples.push({ name, labels, value });
  }
  return families;
}
