// A closed-loop HTTP load generator run as a process of its own (bench/service-load.ts starts it under `nice`, as the
// scrapers and dashboards that load a real service run elsewhere): CONCURRENCY requests in flight, cycling over the
// routes, until SIGTERM; then one JSON line {requests, errors, ms, firstError} on stdout.
//   node --import tsx bench/support/http-load.ts URL TOKEN CONCURRENCY ROUTE...
const [url, token, concurrencyText, ...routes] = process.argv.slice(2);
if (!url || !token || !concurrencyText || routes.length === 0) throw new Error('usage: http-load.ts URL TOKEN CONCURRENCY ROUTE...');
let stopped = false;
let requests = 0;
let errors = 0;
let firstError: string | undefined;
const started = performance.now();
process.once('SIGTERM', () => (stopped = true));

async function worker(offset: number): Promise<void> {
  for (let i = offset; !stopped; i += 1) {
    const path = routes[i % routes.length]!;
    try {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status >= 300) {
        errors += 1;
        firstError ??= `${path}: ${res.status}`;
      }
    } catch (error) {
      errors += 1;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      firstError ??= `${path}: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
    }
    requests += 1;
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: Number(concurrencyText) }, (_, i) => worker(i)));
process.stdout.write(`${JSON.stringify({ requests, errors, ms: performance.now() - started, firstError })}\n`);
