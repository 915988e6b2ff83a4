import type { Role } from './auth/roles.js';

/** What an authenticated request carries (hono's context variables). */
export interface Principal {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
}

export interface ServerEnv {
  Variables: { principal: Principal };
}

/** How a token appears in the audit log and on jobs: `token:NAME` (the CLI's entries name the OS user instead). */
export function actorOf(principal: Principal): string {
  return `token:${principal.name}`;
}
