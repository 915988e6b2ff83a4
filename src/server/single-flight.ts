/**
 * Concurrent calls with one key share one run: under load (hundreds of requests at once for /metrics or the health
 * route), the service probes the databases and renders the exposition once per burst instead of once per request.
 * A call that arrives after the run settled starts a new one, so nothing is served from a cache.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running;
    const started = fn().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }
}
