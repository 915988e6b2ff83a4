// Test helpers for restore_command: PostgreSQL's expansion of its placeholders, and synthetic WAL segments whose first
// page carries a long header that checkWalSegmentFile accepts (for archives built without a server).
import { parseSegmentName } from '../../src/engines/postgres/backup/wal-position.js';

/** restore_command as PostgreSQL runs it: %f, %p, %r replaced, %% a literal %, scanned left to right. */
export function substituteRestoreCommand(command: string, name: string, path: string): string {
  let out = '';
  for (let i = 0; i < command.length; i += 1) {
    const c = command[i]!;
    if (c !== '%' || i + 1 >= command.length) {
      out += c;
      continue;
    }
    const next = command[i + 1]!;
    const value = next === 'f' ? name : next === 'p' ? path : next === 'r' ? '000000010000000000000001' : next === '%' ? '%' : undefined;
    if (value === undefined) out += c;
    else {
      out += value;
      i += 1;
    }
  }
  return out;
}

/**
 * A whole segment `name` of `segmentSize` bytes: a long page header (PostgreSQL 15's magic, this segment's address,
 * the size) then `fill`, so that each segment's bytes differ.
 */
export function syntheticSegment(name: string, segmentSize: number, fill = name): Buffer {
  const parsed = parseSegmentName(name, segmentSize);
  if (!parsed) throw new Error(`${name} is not a segment name`);
  const content = Buffer.alloc(segmentSize, 0);
  content.write(fill.repeat(Math.ceil(4096 / fill.length)), 64, 'latin1');
  content.writeUInt16LE(0xd110, 0);
  content.writeUInt16LE(0x0002, 2);
  content.writeUInt32LE(parsed.timeline, 4);
  content.writeBigUInt64LE(parsed.segment * BigInt(segmentSize), 8);
  content.writeBigUInt64LE(7_000_000_000_000_000_001n, 24);
  content.writeUInt32LE(segmentSize, 32);
  content.writeUInt32LE(8192, 36);
  return content;
}
