import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s per try): the OWASP-recommended minimum for scrypt. */
export const SCRYPT_PARAMS = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/** Content of `keys/<id>`: the master key wrapped (AES-256-GCM) by a key derived from one passphrase. Plain JSON: it
 * is readable before any key is known. The KDF parameters are authenticated (part of the AAD) so they cannot be
 * lowered by someone who can write the repository. */
export interface KeyFile {
  readonly formatVersion: 1;
  readonly kdf: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly nonce: string;
  readonly wrappedKey: string;
  readonly tag: string;
  readonly createdAt: string;
}

export async function wrapMasterKey(masterKey: Buffer, passphrase: string): Promise<KeyFile> {
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const base = { formatVersion: 1 as const, kdf: 'scrypt' as const, ...SCRYPT_PARAMS, salt: salt.toString('base64') };
  const kek = await deriveKey(passphrase, salt, base);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(aad(base));
  const wrapped = Buffer.concat([cipher.update(masterKey), cipher.final()]);
  return { ...base, nonce: nonce.toString('base64'), wrappedKey: wrapped.toString('base64'), tag: cipher.getAuthTag().toString('base64'), createdAt: new Date().toISOString() };
}

/** The master key, or undefined when the passphrase does not unwrap this key file. */
export async function unwrapMasterKey(file: KeyFile, passphrase: string): Promise<Buffer | undefined> {
  const kek = await deriveKey(passphrase, Buffer.from(file.salt, 'base64'), file);
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(file.nonce, 'base64'));
    decipher.setAAD(aad(file));
    decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(file.wrappedKey, 'base64')), decipher.final()]);
  } catch {
    return undefined;
  }
}

export function parseKeyFile(text: string): KeyFile | undefined {
  try {
    const value = JSON.parse(text) as Partial<KeyFile>;
    const ok = value.formatVersion === 1 && value.kdf === 'scrypt' && [value.N, value.r, value.p].every((n) => Number.isInteger(n) && (n as number) > 0)
      && [value.salt, value.nonce, value.wrappedKey, value.tag].every((s) => typeof s === 'string');
    return ok ? (value as KeyFile) : undefined;
  } catch {
    return undefined;
  }
}

function aad(params: { formatVersion: number; kdf: string; N: number; r: number; p: number; salt: string }): Buffer {
  return Buffer.from(`datakeep-key/${params.formatVersion}/${params.kdf}/${params.N}/${params.r}/${params.p}/${params.salt}`);
}

function deriveKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) };
  return new Promise((resolve, reject) => scrypt(passphrase.normalize('NFC'), salt, 32, options, (error, key) => (error ? reject(error) : resolve(key))));
}
