import type { ManifestFileEntry } from '../../../repository/repository-types.js';

/**
 * pgBackRest's rule for reusing a parent backup's copy of a file without reading it: same size, mtime and mode, and an
 * mtime safely older than the parent's copy start (`marginMs` before it). A write in the same clock tick as the
 * parent's copy, or a clock step, could leave size and mtime equal while the content changed, so such files, and files
 * with an mtime in the future, are read again (chunk dedup makes that cost reading only).
 */
export function isFileUnchanged(
  parent: ManifestFileEntry,
  current: { size: number; mtimeMs: number; mode: number },
  parentCopyStartMs: number,
  marginMs: number,
  nowMs: number,
): boolean {
  if (!Number.isFinite(parentCopyStartMs)) return false;
  return parent.size === current.size &&
    parent.mtimeMs === current.mtimeMs &&
    parent.mode === current.mode &&
    current.mtimeMs < parentCopyStartMs - marginMs &&
    current.mtimeMs <= nowMs;
}
