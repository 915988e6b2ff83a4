import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';

/**
 * Who is acting, for the audit log. The service runs each request inside `asActor('token:NAME', ...)`, so every
 * audit entry a subsystem writes during that request names the token, without threading an actor through every call;
 * outside any request (the CLI, the library, a scheduled run) the actor is the OS user, host and process.
 */
const actors = new AsyncLocalStorage<string>();

export function asActor<T>(actor: string, fn: () => T): T {
  return actors.run(actor, fn);
}

export function currentActor(): string {
  return actors.getStore() ?? `${process.env.USER ?? 'unknown'}@${hostname()}:${process.pid}`;
}
