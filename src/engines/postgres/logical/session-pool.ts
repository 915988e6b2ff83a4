import type { LogicalSession } from './logical-session.js';

/** Hands each caller one of `sessions` no one else uses until `fn` returns (callers beyond them wait their turn). */
export function sessionPool(sessions: readonly LogicalSession[]): <T>(fn: (session: LogicalSession) => Promise<T>) => Promise<T> {
  const free = [...sessions];
  const waiters: ((session: LogicalSession) => void)[] = [];
  return async (fn) => {
    const session = free.pop() ?? await new Promise<LogicalSession>((resolve) => waiters.push(resolve));
    try {
      return await fn(session);
    } finally {
      const next = waiters.shift();
      if (next) next(session);
      else free.push(session);
    }
  };
}
