import { ConnectionError } from './connection-error.js';

/**
 * The server was reached and refused the credentials (or the client's authorization: pg_hba.conf, TLS required, an
 * ACL user without the right). A ConnectionError still (code `DK_CONNECTION`, never retriable), so callers that handle
 * connection failures keep working; the class tells "fix the configuration" apart from "the server is down".
 */
export class AuthenticationError extends ConnectionError {
  constructor(adapterId: string, message: string, options: { cause?: unknown } = {}) {
    super(adapterId, message, { ...options, retriable: false });
  }
}
