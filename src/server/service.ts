import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { serve, type ServerType } from '@hono/node-server';
import { pino } from 'pino';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import { loadConfig } from '../config/load-config.js';
import { ConfigurationError } from '../errors/index.js';
import { DataManager } from '../data-manager.js';
import { createStderrLogger, type Logger } from '../util/logger.js';
import { createApp } from './app.js';
import { TokenStore } from './auth/token-store.js';
import { dashboardDirectory } from './dashboard-files.js';
import { JobRegistry } from './jobs/job-registry.js';
import type { ServiceDeps } from './service-deps.js';
import { startConfiguredWork } from './start-work.js';

/** How long stop() waits for the DataManager to close (after the jobs' own bound). */
const CLOSE_LIMIT_MS = 10_000;

export interface ServeOptions {
  configFile?: string;
  /** Override `server.host` / `server.port` (the CLI's --host/--port). Port 0 picks a free one. */
  host?: string;
  port?: number;
  /** Where the lines for the operator go (the address, the first admin token): stdout in the CLI. */
  print: (line: string) => void;
  /** Default: pino on stdout at the configured logLevel. */
  logger?: Logger;
}

/**
 * `datakeep serve`: the long-running service. It listens first (so /livez answers and /readyz says why it is not
 * ready while the databases open), then opens the databases and the state store, creates the first admin token if
 * there is none, starts the configured schedules and watchers, and is ready. stop() stops accepting requests, waits
 * for running jobs up to the configured bound (recording the rest as interrupted) and closes the DataManager.
 */
export class DatakeepService {
  #state: 'starting' | 'ready' | 'stopping' = 'starting';
  #reason = 'opening the databases and the state store';
  #tokens: TokenStore | undefined;
  #jobs: JobRegistry | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(readonly config: ResolvedDatakeepConfig, readonly dm: DataManager, readonly logger: Logger, private readonly server: ServerType, readonly url: string) {}

  static async start(options: ServeOptions): Promise<DatakeepService> {
    const config = loadConfig({ file: options.configFile });
    const logger = options.logger ?? createStderrLogger(config.logLevel, pino.destination({ dest: 1, sync: true }));
    const host = options.host ?? config.server.host;
    const port = options.port ?? config.server.port;
    const dm = new DataManager({ configFile: options.configFile, logger });
    // The routes are built before the service object exists (it needs the listening server); they reach it here.
    const holder: { service?: DatakeepService } = {};
    const deps: ServiceDeps = {
      dm, config, logger, dashboardDir: dashboardDirectory(),
      tokens: () => holder.service!.#tokens!,
      jobs: () => holder.service!.#jobs!,
      readiness: () => (holder.service ? holder.service.#readiness() : { ready: false, reason: 'starting' }),
    };
    const app = createApp(deps);
    const tls = config.server.tls;
    const server = await listen(app.fetch, host, port, tls);
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
    const service = new DatakeepService(config, dm, logger, server, url);
    holder.service = service;
    options.print(`datakeep serve: listening on ${url} (dashboard at /)`);
    try {
      await service.#open(options.print);
    } catch (error) {
      await service.stop().catch(() => undefined);
      throw error;
    }
    return service;
  }

  async #open(print: (line: string) => void): Promise<void> {
    await this.dm.initialize();
    const state = await this.dm.state();
    this.#tokens = new TokenStore(state);
    this.#jobs = new JobRegistry(state, this.logger);
    const orphans = await this.#jobs.markOrphansInterrupted();
    if (orphans > 0) this.logger.log('warn', `${orphans} job(s) of a datakeep process that stopped were recorded as interrupted`, { operation: 'serve.start' });
    if (!(await this.#tokens.anyActive())) {
      const { token } = await this.#tokens.create('admin', 'admin');
      // Printed once, to the operator's terminal only: the logger never sees it.
      print(`first admin token: ${token}`);
      print('  (shown once; keep it. More tokens: datakeep token create --name NAME --role viewer|operator|admin)');
    }
    if (this.#state === 'stopping') return;
    const work = await startConfiguredWork(this.dm, this.config, this.logger, this.#jobs);
    this.#state = 'ready';
    this.#reason = '';
    this.logger.log('info', 'datakeep serve ready', { operation: 'serve.start', url: this.url, started: work.started, failed: work.failed.map((f) => f.what) });
  }

  #readiness(): { ready: true } | { ready: false; reason: string } {
    return this.#state === 'ready' ? { ready: true } : { ready: false, reason: this.#reason };
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  /** Idempotent: stop accepting, drain jobs (bounded), close the DataManager. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = 'stopping';
      this.#reason = 'shutting down';
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // Streams (SSE) would keep close() waiting: cut idle and open connections once jobs are drained.
      const drained = await this.#jobs?.drain(this.config.server.shutdownTimeoutMs);
      if (drained?.interrupted.length) this.logger.log('warn', 'jobs still running at shutdown were recorded as interrupted', { operation: 'serve.stop', jobs: drained.interrupted });
      (this.server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      // A job cut off above may still hold connections that close() would wait for: the wait is bounded.
      const closing = this.dm.close();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_LIMIT_MS)));
      if ((await Promise.race([closing.then(() => 'closed' as const), late])) === 'late') {
        this.logger.log('warn', `the databases did not close within ${CLOSE_LIMIT_MS / 1000} s; stopping anyway`, { operation: 'serve.stop' });
      }
      clearTimeout(timer);
      this.logger.log('info', 'datakeep serve stopped', { operation: 'serve.stop' });
    })();
    return this.#stopping;
  }
}

/** Binds the HTTP(S) server; resolves once it listens, rejects with a ConfigurationError naming what is wrong. */
function listen(fetch: (request: Request) => Response | Promise<Response>, host: string, port: number, tls: ResolvedDatakeepConfig['server']['tls']): Promise<ServerType> {
  let serverOptions: { key: Buffer; cert: Buffer } | undefined;
  if (tls) {
    try {
      serverOptions = { key: readFileSync(tls.key), cert: readFileSync(tls.cert) };
    } catch (cause) {
      throw new ConfigurationError('server.tls', `cannot read the certificate or key (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Check the paths of server.tls.cert and server.tls.key', { cause });
    }
  }
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: host, port, ...(serverOptions ? { createServer: createHttpsServer, serverOptions } : {}) });
    server.once('error', (error: NodeJS.ErrnoException) => {
      const fix = error.code === 'EADDRINUSE' ? 'Stop what uses it, or choose another with --port or server.port' : 'Check server.host and server.port';
      reject(new ConfigurationError('server.port', `cannot listen on ${host}:${port} (${error.code ?? error.message})`, fix, { cause: error }));
    });
    // Keep idle connections for 65 s (Node's default is 5 s): a client slowed down by a loaded machine (scrapers,
    // the dashboard, a load balancer with a 60 s idle timeout) otherwise reuses a connection the service is closing
    // at that moment, and its request fails with "other side closed". The headers limit must exceed it.
    const http = server as { keepAliveTimeout?: number; headersTimeout?: number };
    http.keepAliveTimeout = 65_000;
    http.headersTimeout = 66_000;
    server.once('listening', () => resolve(server));
  });
}
