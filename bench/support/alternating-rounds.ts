import type { Measurement } from './measurement.js';

/** One of the two things being compared; `run` performs and times one round's worth of work. */
export interface BenchSide {
  readonly name: string;
  readonly run: () => Promise<Measurement>;
}

export interface RoundResult {
  /** 1-based. */
  readonly round: number;
  /** Which side ran first in this round. */
  readonly first: 'a' | 'b';
  readonly a: Measurement;
  readonly b: Measurement;
}

/**
 * Runs `rounds` rounds of A and B, A first in odd rounds and B first in even ones, so that drift (a neighbour's test
 * run starting, caches warming, the CPU clocking down) lands on both sides alike instead of on whichever ran later.
 * Use an even round count to give both orders the same weight.
 */
export async function alternatingRounds(options: {
  readonly rounds: number;
  readonly a: BenchSide;
  readonly b: BenchSide;
  readonly onRound?: (result: RoundResult) => void;
}): Promise<RoundResult[]> {
  const results: RoundResult[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    const first = round % 2 === 1 ? 'a' : 'b';
    let a: Measurement;
    let b: Measurement;
    if (first === 'a') {
      a = await options.a.run();
      b = await options.b.run();
    } else {
      b = await options.b.run();
      a = await options.a.run();
    }
    const result: RoundResult = { round, first, a, b };
    results.push(result);
    options.onRound?.(result);
  }
  return results;
}
