import { UsageError } from '../../errors/index.js';
import { splitCommandLine, type RedisArgument } from './split-command-line.js';

/** A command as callers give it: a redis-cli style line (`'GET user:123'`) or its parts (`['HSET', 'k', 'f', 'v']`). */
export type RedisCommand = string | readonly unknown[];

/**
 * Turns a command (line or array) plus optional extra arguments into the argument list sent to the server. `params`
 * are appended after the line's own arguments, so a value never needs quoting: `command('SET user:1', [json])`.
 * Numbers and bigints become their decimal text; Buffers are sent as bytes; anything else is a UsageError, because
 * silently sending `[object Object]` would store garbage.
 */
export function toRedisArguments(command: RedisCommand, params?: readonly unknown[]): RedisArgument[] {
  let args: RedisArgument[];
  if (typeof command === 'string') {
    args = splitCommandLine(command);
  } else if (Array.isArray(command)) {
    if (command.length === 0) throw new UsageError('command', 'is an empty array; give the command name first, e.g. ["GET", "user:123"]');
    // Hot path: an array of strings is sent as given (ioredis copies the arguments into its own command object).
    if (params === undefined && command[0] !== '' && command.every(isString)) return command as string[];
    args = new Array<RedisArgument>(command.length);
    for (let i = 0; i < command.length; i += 1) args[i] = toArgument(command[i], `command[${i}]`);
  } else {
    throw new UsageError('command', `expected a command line string or an array such as ["GET", "key"], got ${command === null ? 'null' : typeof command}`);
  }
  if (params !== undefined) {
    if (!Array.isArray(params)) throw new UsageError('params', `expected an array of extra arguments, got ${typeof params}`);
    for (let i = 0; i < params.length; i += 1) args.push(toArgument(params[i], `params[${i}]`));
  }
  const name = args[0];
  if (typeof name !== 'string' || name === '') {
    throw new UsageError('command', 'the first element must be the command name as a non-empty string, e.g. "GET"');
  }
  return args;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function toArgument(value: unknown, field: string): RedisArgument {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new UsageError(field, `${value} cannot be sent to Redis; give a finite number or a string`);
      return String(value);
    case 'bigint':
      return value.toString();
    default:
      if (Buffer.isBuffer(value)) return value;
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      throw new UsageError(
        field,
        `${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value} is not a Redis argument; give a string, number or Buffer (serialise objects yourself, e.g. JSON.stringify)`,
      );
  }
}
