import type { Redis } from 'ioredis';
import { ConnectionError, QueryError, TransactionError, UsageError, type DatakeepError } from '../../errors/index.js';
import type { AdapterInstruments } from '../../metrics/adapter-instruments.js';
import type { CircuitBreaker } from '../../resilience/circuit-breaker.js';
import { toRedisArguments, type RedisCommand } from './redis-command.js';
import type { RedisArgument } from './split-command-line.js';

export type RedisArgs = [string, ...RedisArgument[]];

/** See `send`: 1 = every command is timed. */
const LATENCY_SAMPLE_EVERY = 4;

const isConnectionError = (error: unknown): boolean => error instanceof ConnectionError;

/**
 * Sends commands, pipelines and MULTI/EXEC blocks on a given connection: through the circuit breaker, counted in the
 * instruments, errors mapped. Only a connection failure counts against the circuit (otherwise the server answered).
 */
export class RedisCommandRunner {
  #tick = LATENCY_SAMPLE_EVERY - 1;

  constructor(
    private readonly id: string,
    private readonly breaker: CircuitBreaker,
    private readonly instruments: AdapterInstruments,
    private readonly mapError: (raw: unknown) => DatakeepError,
  ) {}

  /**
   * The hot path: one command on one connection. While the circuit is closed with no failure counted, the command
   * goes straight to ioredis (see CircuitBreaker.passThrough); written with `then` rather than async/await, one
   * promise fewer per command, which the overhead benchmark can see.
   */
  send(connection: Redis, args: RedisArgs): Promise<unknown> {
    if (this.breaker.passThrough) return this.#call(connection, args, true);
    return this.breaker.execute(() => this.#call(connection, args, false), isConnectionError);
  }

  #call(connection: Redis, args: RedisArgs, report: boolean): Promise<unknown> {
    // Counts are exact; latency is sampled on every LATENCY_SAMPLE_EVERY-th command, because two clock reads cost
    // about a third of the adapter's own time per command, and a sample of that size gives the same percentiles (the
    // histogram scales the timed ones to the exact count).
    const timed = (this.#tick = (this.#tick + 1) % LATENCY_SAMPLE_EVERY) === 0;
    const started = timed ? performance.now() : 0;
    const c = this.instruments;
    return connection.call(...args).then(
      (reply) => {
        c.operations += 1;
        if (timed) c.observe(performance.now() - started);
        return reply;
      },
      (raw: unknown) => {
        c.operations += 1;
        if (timed) c.observe(performance.now() - started);
        const error = this.mapError(raw);
        c.recordError(error.code);
        if (report && error instanceof ConnectionError) return this.breaker.recordFailure(error).then(() => Promise.reject(error));
        throw error;
      },
    );
  }

  /** A pipeline or a MULTI/EXEC block; null when EXEC aborted (a watched key changed). */
  batch(connection: Redis, list: readonly RedisArgs[], atomic: boolean): Promise<unknown[] | null> {
    if (this.breaker.passThrough) return this.#batch(connection, list, atomic, true);
    return this.breaker.execute(() => this.#batch(connection, list, atomic, false), isConnectionError);
  }

  async #batch(connection: Redis, list: readonly RedisArgs[], atomic: boolean, report: boolean): Promise<unknown[] | null> {
    const started = performance.now();
    const c = this.instruments;
    let results: [Error | null, unknown][] | null;
    try {
      const batch = atomic ? connection.multi() : connection.pipeline();
      for (const args of list) batch.call(...args);
      results = await batch.exec();
    } catch (raw) {
      c.operations += list.length;
      c.observe(performance.now() - started);
      const error = this.mapError(raw);
      c.recordError(error.code, list.length);
      throw await this.#reported(error, report);
    }
    // One latency sample per round trip; every command counts as an operation.
    c.observe(performance.now() - started);
    c.operations += list.length;
    if (results === null) return null;
    const replies = new Array<unknown>(results.length);
    let connectionFailure: DatakeepError | undefined;
    for (let i = 0; i < results.length; i += 1) {
      const [err, value] = results[i]!;
      if (err) {
        const mapped = this.mapError(err);
        c.recordError(mapped.code);
        if (mapped instanceof ConnectionError) connectionFailure = mapped;
        replies[i] = mapped;
      } else {
        replies[i] = value;
      }
    }
    if (connectionFailure) throw await this.#reported(connectionFailure, report);
    return replies;
  }

  /** On the pass-through path a connection failure is reported to the breaker before the caller sees it. */
  async #reported(error: DatakeepError, report: boolean): Promise<DatakeepError> {
    if (report && error instanceof ConnectionError) await this.breaker.recordFailure(error);
    return error;
  }

  /** The caller's commands as argument arrays; a bad one is a UsageError naming its index. */
  argumentsList(commands: readonly RedisCommand[]): RedisArgs[] {
    if (!Array.isArray(commands) || commands.length === 0) {
      throw new UsageError('commands', 'expected a non-empty array of commands, e.g. [["SET", "k", "v"], "GET k"]');
    }
    return commands.map((command, i) => {
      try {
        return toRedisArguments(command as RedisCommand, undefined) as RedisArgs;
      } catch (error) {
        if (error instanceof UsageError) throw new UsageError(`commands[${i}]`, error.message);
        throw error;
      }
    });
  }

  /** EXEC applied every command but one (or more) failed: Redis does not roll back, so this says what happened. */
  throwIfPartial(replies: readonly unknown[], queued: readonly RedisArgs[]): void {
    const failed = replies.findIndex((r) => r instanceof QueryError);
    if (failed < 0) return;
    const error = replies[failed] as QueryError;
    throw new TransactionError(
      this.id,
      `command ${failed + 1} of ${queued.length} (${queued[failed]![0]}) failed inside EXEC: ${error.message}; the other commands were applied (Redis does not roll back a MULTI block)`,
      { cause: error },
    );
  }
}
