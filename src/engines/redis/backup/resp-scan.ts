// Just enough of RESP to cut the replication stream into whole commands and to count replies: lengths are read,
// payloads are skipped, nothing is copied.

const CR = 13;

/** Index just past the `\r\n` ending the line that starts at `pos`, or -1 when the line is incomplete. */
function lineEnd(buf: Buffer, pos: number): number {
  const cr = buf.indexOf(CR, pos);
  if (cr < 0 || cr + 1 >= buf.length) return -1;
  return cr + 2;
}

function lineInt(buf: Buffer, from: number, to: number): number {
  return Number(buf.toString('latin1', from, to - 2));
}

/**
 * The end of the RESP value (reply or command) that starts at `pos`, or -1 when `buf` does not hold all of it yet.
 * Throws on a byte that starts no RESP value (the stream is out of step: nothing after it can be trusted).
 */
export function respValueEnd(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return -1;
  const type = buf[pos];
  const end = lineEnd(buf, pos);
  if (end < 0) return -1;
  switch (type) {
    case 0x2b: // + simple string
    case 0x2d: // - error
    case 0x3a: // : integer
      return end;
    case 0x24: { // $ bulk string
      const length = lineInt(buf, pos + 1, end);
      if (length < 0) return end;
      const stop = end + length + 2;
      return stop <= buf.length ? stop : -1;
    }
    case 0x2a: { // * array
      const count = lineInt(buf, pos + 1, end);
      let at = end;
      for (let i = 0; i < count; i += 1) {
        at = respValueEnd(buf, at);
        if (at < 0) return -1;
      }
      return at;
    }
    default:
      throw new Error(`unexpected byte 0x${(type ?? 0).toString(16)} at a RESP value's start`);
  }
}

/** The first bulk string of the command (an array) at `pos`, upper-cased: its name. */
export function commandName(buf: Buffer, pos: number): string {
  return commandArgument(buf, pos, 0).toUpperCase();
}

/** The `index`-th bulk string of the command at `pos` (latin1), or '' when it has fewer. */
export function commandArgument(buf: Buffer, pos: number, index: number): string {
  const headerEnd = lineEnd(buf, pos);
  const count = lineInt(buf, pos + 1, headerEnd);
  let at = headerEnd;
  for (let i = 0; i < count; i += 1) {
    const lenEnd = lineEnd(buf, at);
    const length = lineInt(buf, at + 1, lenEnd);
    if (i === index) return buf.toString('latin1', lenEnd, lenEnd + length);
    at = lenEnd + length + 2;
  }
  return '';
}

/** A command as RESP (an array of bulk strings). */
export function encodeCommand(...args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
