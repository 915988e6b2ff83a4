/** Quotes an argument for /bin/sh (PostgreSQL runs archive, restore and recovery-end commands through it). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
