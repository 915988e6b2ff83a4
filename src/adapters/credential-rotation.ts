import type { CredentialEvent } from '../config/credential-source.js';
import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import type { Logger } from '../util/logger.js';
import type { AdapterHooks } from './adapter-hooks.js';

/**
 * Follows one adapter's credential source while the adapter is connected: a changed password makes the engine
 * replace its connections (AdapterHooks.rotateCredentials), one rotation at a time; a password file that cannot be
 * used is logged and changes nothing. Log lines name the adapter and the source (a file's path), never the password.
 */
export class CredentialRotation {
  #unsubscribe: (() => void) | undefined;
  #chain: Promise<void> = Promise.resolve();
  #rotations = 0;

  constructor(
    private readonly config: ResolvedDatabaseConfig,
    private readonly logger: Logger,
    private readonly hooks: Pick<AdapterHooks, 'rotateCredentials'>,
  ) {}

  /** Rotations completed (or attempted) since connect. */
  get rotations(): number {
    return this.#rotations;
  }

  start(): void {
    // A configuration built by hand (tests, embedders) may lack a source: nothing can change then.
    this.#unsubscribe ??= this.config.credentials?.onChange((event) => this.#onEvent(event));
  }

  /** Stops following the source and waits for a rotation in progress (each engine's rotation is bounded). */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#chain;
  }

  #onEvent(event: CredentialEvent): void {
    const adapter = this.config.id;
    if (event.kind === 'unusable') {
      this.logger.log('warn', 'password file cannot be used; keeping the previous password', { adapter, source: event.source, reason: event.reason });
      return;
    }
    const rotate = this.hooks.rotateCredentials;
    if (!rotate) {
      this.logger.log('warn', 'password changed, but this engine cannot replace its connections: it uses the new password after a restart', { adapter, source: event.source });
      return;
    }
    this.#chain = this.#chain.then(async () => {
      if (this.#unsubscribe === undefined) return;
      this.#rotations += 1;
      try {
        await rotate.call(this.hooks);
        this.logger.log('info', 'password changed; new connections use it, older ones close when idle', { adapter, source: event.source });
      } catch (error) {
        this.logger.log('warn', 'password changed but the connections could not be replaced; new connections use it', {
          adapter, source: event.source, error: error instanceof Error ? error.message : String(error),
        });
      }
    });
  }
}
