import type { AdapterInstruments } from './adapter-instruments.js';

export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** Connections of one adapter right now (`used` = checked out or busy). */
export interface ConnectionCounts {
  readonly used: number;
  readonly idle: number;
  readonly waiting: number;
  readonly max: number;
}

/** One adapter as the Prometheus exposition sees it: its instruments and the gauges read when scraped. */
export interface MetricsSource {
  readonly databaseId: string;
  readonly engine: string;
  readonly instruments: AdapterInstruments;
  connections(): ConnectionCounts;
  circuit(): { readonly state: CircuitStateName; readonly opened: number };
}
