/**
 * Worker-thread entry of the chunk pool (see chunk-worker-pool.ts). Requests are handled in arrival order; a chunk's
 * plaintext stays here between its 'id' and its 'encode'/'drop' so it crosses the thread boundary once. File scans
 * (chunking and whole-file hash) keep their state here between a file's 'scan' messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RepositoryError } from '../errors/repository-error.js';
import { ChunkWork } from './chunk-work.js';
import type { ChunkPoolSettings, WorkerReply, WorkerRequest } from './chunk-worker-protocol.js';
import { FileScan } from './file-scan.js';

const settings = workerData as ChunkPoolSettings;
const work = new ChunkWork(settings);
const held = new Map<number, Uint8Array>();
const scans = new Map<number, FileScan>();
const port = parentPort!;

port.on('message', (request: WorkerRequest) => {
  try {
    switch (request.op) {
      case 'id':
        held.set(request.seq, request.data);
        reply({ seq: request.seq, id: work.chunkId(request.data) });
        return;
      case 'encode': {
        const data = held.get(request.seq)!;
        held.delete(request.seq);
        const encoded = work.encode(request.key, data);
        reply({ seq: request.seq, data: encoded }, [encoded]);
        return;
      }
      case 'drop':
        held.delete(request.seq);
        return;
      case 'decode': {
        const plaintext = work.decode(request.key, Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength), request.id);
        reply({ seq: request.seq, data: plaintext }, [plaintext]);
        return;
      }
      case 'scan-begin':
        scans.set(request.file, new FileScan(settings.chunking, settings.gear));
        return;
      case 'scan': {
        const chunks = scanOf(request.file).push(request.data);
        reply({ seq: request.seq, chunks }, chunks);
        return;
      }
      case 'scan-end': {
        const result = scanOf(request.file).finish();
        scans.delete(request.file);
        reply({ seq: request.seq, chunks: result.chunks, sha256: result.sha256, size: result.size }, result.chunks);
        return;
      }
      case 'scan-abort':
        scans.delete(request.file);
        return;
    }
  } catch (error) {
    const reason = error instanceof RepositoryError ? error.reason : 'corrupt-object';
    reply({ seq: request.seq, error: { reason, message: error instanceof Error ? error.message : String(error), object: error instanceof RepositoryError ? error.object : undefined } });
  }
});

function scanOf(file: number): FileScan {
  const scan = scans.get(file);
  if (scan === undefined) throw new RepositoryError('invalid-argument', `chunk worker: no file scan ${file} in progress (pool protocol error)`);
  return scan;
}

function reply(message: WorkerReply, buffers: Buffer[] = []): void {
  // Transfer only buffers that own their whole ArrayBuffer: a pooled Buffer shares memory with others.
  const transfer = buffers.filter((b) => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength).map((b) => b.buffer as ArrayBuffer);
  port.postMessage(message, transfer);
}
