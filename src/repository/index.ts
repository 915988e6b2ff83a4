export type * from './repository-types.js';
export { initRepository, openRepository, type RepositoryExtraOptions } from './open-repository.js';
export { BackupRepository } from './backup-repository.js';
export { FilesystemStorage } from './filesystem-storage.js';
export { RepositoryError, type RepositoryErrorReason } from '../errors/repository-error.js';
export type { RepositoryConfig } from './repository-config.js';
