/** Number formats shared by the benchmarks, so every report reads the same way. */

/** 21345.6 -> "21,346" (operations per second need no decimals). */
export function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

/** 0.98765 -> "0.988". */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? ratio.toFixed(3) : 'n/a';
}

/** 0.0423 -> "4.2 %". */
export function formatPercent(fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)} %` : 'n/a';
}

/** 1234.5 ms -> "1.23 s", 85.2 -> "85 ms". */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** 41.26 µs -> "41.3". */
export function formatMicros(us: number): string {
  return Number.isFinite(us) ? us.toFixed(1) : 'n/a';
}
