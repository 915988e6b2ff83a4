import { Counter, Gauge, Registry } from 'prom-client';
import { AdapterInstruments } from './adapter-instruments.js';
import { BucketHistogram } from './bucket-histogram.js';
import type { CircuitStateName, MetricsSource } from './metrics-source.js';

const LABELS = ['database_id', 'engine'] as const;
/** One series: its own labels, the adapter it belongs to, its value. */
type Sample = [Readonly<Record<string, string>>, MetricsSource, number];

const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'open', 'half-open'];

/**
 * The Prometheus metrics of one DataManager, on a prom-client Registry of its own (never the process-wide default, so
 * that two DataManagers in one process do not mix or collide). Names follow Prometheus' conventions and
 * OpenTelemetry's database client metrics: base units (`_seconds`), `_total` on counters, labels `database_id` and
 * `engine` only (plus the metric's own `state`, `code` or `outcome`), never statement text.
 *
 * Every value is read from the adapters' instruments when the registry is scraped, so the hot path pays for none of
 * prom-client's label handling, and `DataManager.getMetrics()` reads the very same instruments.
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  readonly #sources = new Map<string, MetricsSource>();
  readonly #instruments = new Map<string, AdapterInstruments>();

  constructor() {
    const sources = () => this.#sources.values();
    this.registry.registerMetric(new BucketHistogram(sources));
    this.#counter('datakeep_db_client_errors_total', 'Failed database client operations, by datakeep error code', ['code'], function* () {
      for (const s of sources()) for (const [code, n] of s.instruments.errors) yield [{ code }, s, n];
    });
    this.#counter('datakeep_db_client_transactions_total', 'Transactions ended, by outcome (committed or rolled_back)', ['outcome'], function* () {
      for (const s of sources()) {
        yield [{ outcome: 'committed' }, s, s.instruments.committed];
        yield [{ outcome: 'rolled_back' }, s, s.instruments.rolledBack];
      }
    });
    this.#counter('datakeep_db_client_transaction_retries_total', 'Transaction bodies or commits run again after a retryable failure (serialization, deadlock, WATCH conflict, transient error)', [], function* () {
      for (const s of sources()) yield [{}, s, s.instruments.retried];
    });
    this.#counter('datakeep_db_client_connect_failures_total', 'Connection attempts that failed', [], function* () {
      for (const s of sources()) yield [{}, s, s.instruments.failedConnectAttempts];
    });
    this.#counter('datakeep_db_client_circuit_opened_total', 'Times the circuit breaker opened after consecutive connection failures', [], function* () {
      for (const s of sources()) yield [{}, s, s.circuit().opened];
    });
    this.#gauge('datakeep_db_client_connections', 'Connections by state: used (checked out or busy), idle, and waiting (callers queued for one)', ['state'], function* () {
      for (const s of sources()) {
        const c = s.connections();
        yield [{ state: 'used' }, s, c.used];
        yield [{ state: 'idle' }, s, c.idle];
        yield [{ state: 'waiting' }, s, c.waiting];
      }
    });
    this.#gauge('datakeep_db_client_connections_max', 'The most connections the adapter may open', [], function* () {
      for (const s of sources()) yield [{}, s, s.connections().max];
    });
    this.#gauge('datakeep_db_client_circuit_state', 'Circuit breaker state: 1 for the current state, 0 for the others', ['state'], function* () {
      for (const s of sources()) {
        const current = s.circuit().state;
        for (const state of CIRCUIT_STATES) yield [{ state }, s, state === current ? 1 : 0];
      }
    });
  }

  /**
   * The instruments for the adapter `databaseId`, and its live readings from now on. An adapter created again under
   * the same id (initialize() retried after a failure) continues the same series.
   */
  attach(databaseId: string, engine: string, live: Pick<MetricsSource, 'connections' | 'circuit'>): AdapterInstruments {
    const instruments = this.#instruments.get(databaseId) ?? new AdapterInstruments();
    this.#instruments.set(databaseId, instruments);
    this.#sources.set(databaseId, { databaseId, engine, instruments, connections: live.connections, circuit: live.circuit });
    return instruments;
  }

  /** The text exposition format, for a `/metrics` endpoint. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #counter(name: string, help: string, extra: readonly string[], read: () => Iterable<Sample>): void {
    new Counter({
      name,
      help,
      labelNames: [...LABELS, ...extra],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, s, n] of read()) this.inc({ ...labels, database_id: s.databaseId, engine: s.engine }, n);
      },
    });
  }

  #gauge(name: string, help: string, extra: readonly string[], read: () => Iterable<Sample>): void {
    new Gauge({
      name,
      help,
      labelNames: [...LABELS, ...extra],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, s, n] of read()) this.set({ ...labels, database_id: s.databaseId, engine: s.engine }, n);
      },
    });
  }
}
