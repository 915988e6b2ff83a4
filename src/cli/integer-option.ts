import { UsageError } from '../errors/index.js';

/** An integer flag in [min, max]; undefined when absent; a UsageError naming the flag otherwise. */
export function integerOption(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(flag, `"${text}" is not an integer between ${min} and ${max}`);
  return value;
}
