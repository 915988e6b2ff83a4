import { ConfigurationError } from '../errors/index.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** `scheme://` then the authority's userinfo: everything up to the last `@` before the path. */
const URL_HEAD = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i;

/**
 * `${NAME}` in `text` replaced by the environment variable NAME. Inside a URL's userinfo
 * (`postgres://app:${DB_PASSWORD}@db/app`) the value is percent-encoded, so that a password holding `@`, `:` or `/`
 * keeps the URL valid and comes out of it unchanged. An unset variable is a ConfigurationError naming the field
 * (`path`) and the variable; values never appear in errors.
 */
export function expandEnvReferences(text: string, env: NodeJS.ProcessEnv, path: string): string {
  if (!text.includes('${')) return text;
  const userinfoEnd = URL_HEAD.exec(text)?.[0].length ?? 0;
  return text.replace(REFERENCE, (_match, name: string, offset: number) => {
    const value = env[name];
    if (value === undefined) {
      throw new ConfigurationError(path || 'config', `refers to environment variable ${name}, which is not set`, `Set ${name} or remove the reference`);
    }
    return offset < userinfoEnd ? encodeURIComponent(value) : value;
  });
}
