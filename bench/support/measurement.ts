/** The outcome of one timed run: how many operations completed, how long the whole run took, and what CPU it used. */
export interface Measurement {
  readonly operations: number;
  readonly elapsedMs: number;
  /** operations / second over the whole run. */
  readonly perSecond: number;
  /**
   * CPU time (user + system) this Node process spent during the run, per operation, in microseconds. On a shared
   * machine it moves far less than throughput does when a neighbour starts working, and the client-side overhead of a
   * wrapper shows up here directly.
   */
  readonly cpuMicrosPerOp: number;
}

/** Starts a measurement; call the returned function when the `operations` are done. */
export function startMeasurement(): (operations: number) => Measurement {
  const started = performance.now();
  const cpu = process.cpuUsage();
  return (operations) => {
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return {
      operations,
      elapsedMs,
      perSecond: elapsedMs > 0 ? (operations * 1000) / elapsedMs : 0,
      cpuMicrosPerOp: operations > 0 ? (used.user + used.system) / operations : 0,
    };
  };
}
