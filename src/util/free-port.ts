import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on `host`: the kernel picks one when we bind port 0, and we release it at once.
 * Another process may take it before the caller binds it, so callers that start servers retry with a new port when
 * the bind fails (ThrowawayPostgres does).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
