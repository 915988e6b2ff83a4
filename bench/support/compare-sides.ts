import type { RoundResult } from './alternating-rounds.js';
import { median, relativeSpread } from './stats.js';

export interface SideComparison {
  readonly medianA: number;
  readonly medianB: number;
  /** median(A) / median(B): the headline figure. */
  readonly ratio: number;
  /**
   * Median of the per-round ratios A_i / B_i. The two sides of a round ran seconds apart, so this cancels slow drift
   * better than the ratio of medians; when the two disagree by more than a percent or two the run was noisy.
   */
  readonly pairedRatio: number;
  readonly pairedMin: number;
  readonly pairedMax: number;
  readonly spreadA: number;
  readonly spreadB: number;
  /** Median client CPU per operation (µs) of each side; see Measurement.cpuMicrosPerOp. */
  readonly cpuA: number;
  readonly cpuB: number;
}

/** Compares the throughput (operations per second) of the A and B sides over alternating rounds. */
export function compareSides(rounds: readonly RoundResult[]): SideComparison {
  const a = rounds.map((r) => r.a.perSecond);
  const b = rounds.map((r) => r.b.perSecond);
  const paired = rounds.map((r) => r.a.perSecond / r.b.perSecond);
  const medianA = median(a);
  const medianB = median(b);
  return {
    medianA,
    medianB,
    ratio: medianA / medianB,
    pairedRatio: median(paired),
    pairedMin: Math.min(...paired),
    pairedMax: Math.max(...paired),
    spreadA: relativeSpread(a),
    spreadB: relativeSpread(b),
    cpuA: median(rounds.map((r) => r.a.cpuMicrosPerOp)),
    cpuB: median(rounds.map((r) => r.b.cpuMicrosPerOp)),
  };
}
