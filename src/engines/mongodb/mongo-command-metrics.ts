import { AdapterInstruments } from '../../metrics/adapter-instruments.js';

/** The slice of the driver's CommandSucceededEvent / CommandFailedEvent this aggregation reads. */
export interface CommandEventSlice {
  readonly commandName: string;
  /** Round trip in milliseconds, measured by the driver. */
  readonly duration: number;
  /** CommandFailedEvent's error. */
  readonly failure?: unknown;
}

/**
 * Commands the driver and datakeep send for their own bookkeeping: handshakes and health probes (hello, ping,
 * buildInfo, replSetGetStatus), session clean-up (endSessions) and transaction control (counted as transactions, as
 * BEGIN/COMMIT are for SQL engines). They are not the application's queries, so they are not counted as such.
 */
export const UNCOUNTED_COMMANDS: ReadonlySet<string> = new Set([
  'hello', 'isMaster', 'ismaster', 'ping', 'buildInfo', 'buildinfo', 'replSetGetStatus', 'endSessions',
  'commitTransaction', 'abortTransaction', 'saslStart', 'saslContinue', 'authenticate',
]);

/**
 * Turns command monitoring events (`monitorCommands: true`) into the adapter's instruments (operations, durations,
 * errors by code). Every server round trip is one sample, so a find that needs getMore batches counts each batch:
 * that is what the server did, and what the latency percentiles should describe.
 */
export class MongoCommandMetrics {
  /**
   * @param errorCode the datakeep error code of a failed command's driver error (default DK_QUERY: the server
   * answered with an error).
   */
  constructor(
    readonly counters: AdapterInstruments = new AdapterInstruments(),
    private readonly errorCode: (failure: unknown) => string = () => 'DK_QUERY',
  ) {}

  onSucceeded(event: CommandEventSlice): void {
    this.record(event, false);
  }

  onFailed(event: CommandEventSlice): void {
    this.record(event, true);
  }

  private record(event: CommandEventSlice, failed: boolean): void {
    if (UNCOUNTED_COMMANDS.has(event.commandName)) return;
    const c = this.counters;
    c.operations += 1;
    if (failed) c.recordError(this.errorCode(event.failure));
    const ms = Number(event.duration);
    if (Number.isFinite(ms) && ms >= 0) c.observe(ms);
  }
}
