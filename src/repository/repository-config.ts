import type { ChunkSizes } from './content-defined-chunker.js';
import type { CompressionType } from './repository-types.js';

export const REPOSITORY_FORMAT_VERSION = 1;
export const CONFIG_KEY = 'config';

/** The repository's `config` object (encrypted and authenticated like every object): fixed at init. */
export interface RepositoryConfig {
  readonly formatVersion: 1;
  readonly repositoryId: string;
  readonly createdAt: string;
  readonly compression: CompressionType;
  readonly compressionLevel: number;
  readonly chunking: ChunkSizes;
}
