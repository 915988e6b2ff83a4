/** One replica as its master reports it in INFO replication (`slave0:ip=...,port=...,state=online,offset=N,lag=S`). */
export interface RedisReplicaInfo {
  readonly address: string;
  readonly state: string;
  readonly offset: number;
  /** Bytes of replication stream the replica has not acknowledged yet (master offset minus replica offset). */
  readonly lagBytes: number;
  /** Seconds since the replica's last acknowledgement, as the master counts them. */
  readonly lagSeconds: number;
}

/** `INFO` text as a flat map of `field -> value`; section headers and blank lines are skipped. */
export function parseRedisInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return out;
}

/** The replicas a master lists in INFO replication, with their lag computed against the master's offset. */
export function parseRedisReplicas(info: Map<string, string>): RedisReplicaInfo[] {
  const masterOffset = Number(info.get('master_repl_offset') ?? 0);
  const replicas: RedisReplicaInfo[] = [];
  for (const [key, value] of info) {
    if (!/^slave\d+$/.test(key)) continue;
    const fields = new Map(value.split(',').map((pair) => pair.split('=') as [string, string]));
    const offset = Number(fields.get('offset') ?? 0);
    replicas.push({
      address: `${fields.get('ip') ?? '?'}:${fields.get('port') ?? '?'}`,
      state: fields.get('state') ?? 'unknown',
      offset,
      lagBytes: Math.max(0, masterOffset - offset),
      lagSeconds: Number(fields.get('lag') ?? 0),
    });
  }
  return replicas;
}
