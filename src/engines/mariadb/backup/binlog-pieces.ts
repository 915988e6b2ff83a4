/**
 * Binlog files live in the repository's log archive (putWal/listWal) as pieces: `B<seq>.<start>.<end>` holds bytes
 * [start, end) of the server's binlog file number `seq` (binlog.000042 is seq 42), and the piece that reaches the end
 * of a file the server has rotated away from carries `.end`. Pieces start and end at event boundaries, so the time of
 * the last transaction in a piece can be read from that piece alone. The name says everything gap detection needs
 * without opening an object: a file's pieces must be contiguous from 0, and every file before the last must end.
 */
export interface BinlogPiece {
  readonly name: string;
  readonly seq: number;
  readonly start: number;
  readonly end: number;
  /** This piece reaches the end of a file the server had already rotated away from. */
  readonly final: boolean;
}

const PIECE = /^B(\d{7})\.(\d{13})\.(\d{13})(\.end)?$/;

export function pieceName(seq: number, start: number, end: number, final: boolean): string {
  return `B${String(seq).padStart(7, '0')}.${String(start).padStart(13, '0')}.${String(end).padStart(13, '0')}${final ? '.end' : ''}`;
}

/** The name retention keeps as a backup's first needed log item (`metadata.firstLog`): shorter than 24 characters, so it sorts as written. */
export function fileKey(seq: number): string {
  return `B${String(seq).padStart(7, '0')}`;
}

export function seqOfFileKey(key: string): number | undefined {
  const match = /^B(\d{7})$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

export function parsePiece(name: string): BinlogPiece | undefined {
  const match = PIECE.exec(name);
  if (!match) return undefined;
  return { name, seq: Number(match[1]), start: Number(match[2]), end: Number(match[3]), final: match[4] !== undefined };
}

/** The sequence number of a server binlog file name (`binlog.000042` -> 42). */
export function seqOfBinlogFile(file: string): number {
  const match = /\.(\d+)$/.exec(file);
  if (!match) throw new Error(`internal: binlog file name ${JSON.stringify(file)} has no numeric extension`);
  return Number(match[1]);
}

/** Every archived piece, grouped by file and sorted by offset. */
export function piecesByFile(names: readonly string[]): Map<number, BinlogPiece[]> {
  const files = new Map<number, BinlogPiece[]>();
  for (const name of names) {
    const piece = parsePiece(name);
    if (!piece) continue;
    const list = files.get(piece.seq) ?? [];
    list.push(piece);
    files.set(piece.seq, list);
  }
  for (const list of files.values()) list.sort((a, b) => a.start - b.start || a.end - b.end);
  return files;
}

/** How far the archive reaches from a starting file without a hole. */
export interface ArchivedRun {
  /** The pieces of the unbroken run, in replay order (files ascending, offsets ascending). */
  readonly pieces: readonly BinlogPiece[];
  /** The first thing missing after the run (a file, or a byte range of one), undefined when the run reaches the newest piece. */
  readonly gap: { readonly missing: string; readonly laterPieces: number } | undefined;
}

/**
 * The unbroken run of archived binlog from file `fromSeq` (offset 0) onwards. Stops at the first hole: a file's pieces
 * not contiguous from 0, a file that never ended although a later one is archived, or a missing file number.
 */
export function archivedRun(byFile: ReadonlyMap<number, readonly BinlogPiece[]>, fromSeq: number): ArchivedRun {
  const run: BinlogPiece[] = [];
  const newest = Math.max(fromSeq, ...byFile.keys());
  const later = (seq: number, offset: number) => [...byFile.entries()].reduce((n, [s, list]) => n + list.filter((p) => s > seq || (s === seq && p.start >= offset)).length, 0);
  for (let seq = fromSeq; seq <= newest; seq++) {
    const list = byFile.get(seq);
    if (!list || list.length === 0) {
      return { pieces: run, gap: seq === fromSeq && byFile.size === 0 ? undefined : { missing: `${fileKey(seq)} (binlog file ${seq})`, laterPieces: later(seq, 0) } };
    }
    let offset = 0;
    let ended = false;
    for (const piece of list) {
      if (piece.end <= offset) {
        // The empty final piece archiveBinlog stores for a file seen rotated only after its last bytes were archived.
        if (piece.final && piece.start === offset) ended = true;
        continue;
      }
      if (piece.start !== offset) return { pieces: run, gap: { missing: `bytes ${offset}..${piece.start} of binlog file ${seq}`, laterPieces: later(seq, piece.start) } };
      run.push(piece);
      offset = piece.end;
      ended = piece.final;
    }
    if (!ended && seq < newest) return { pieces: run, gap: { missing: `the end of binlog file ${seq} (archived up to byte ${offset})`, laterPieces: later(seq + 1, 0) } };
  }
  return { pieces: run, gap: undefined };
}
