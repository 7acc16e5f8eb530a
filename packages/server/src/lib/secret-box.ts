/**
 * Encryption of secrets Roster must use again, at rest: OIDC client secrets (presented to the
 * provider's token endpoint), webhook signing secrets (deliveries are signed with them) and the
 * headers of an MCP server feature's upstream (sent to the upstream, modules/gateway). They cannot
 * be hashed like API tokens. So it is encrypted with AES-256-GCM
 * under a key that is NOT in the database: a stolen database dump alone does not reveal secrets.
 *
 * The key comes from ROSTER_SECRET_KEY (any string of 32+ characters; every server of a cluster
 * needs the same value), or else from `<ROSTER_DATA_DIR>/secret.key`, created on first use with
 * 32 random bytes and mode 0600 (fine for a single server; back it up with the database).
 * Changing or losing the key makes stored secrets unreadable: PUT the connection again.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { AppError } from './errors.js';

const KEY_FILE = 'secret.key';
const FORMAT = 'v1';

export interface SecretBox {
  /** `v1.<iv>.<tag>.<ciphertext>` (base64url), bound to `context` (e.g. the workspace). */
  seal(plaintext: string, context: string): string;
  /** Throws when the key or the context differs from the ones used to seal. */
  open(sealed: string, context: string): string;
}

/** The key file's length in bytes (base64 in the file). */
const KEY_BYTES = 32;

/**
 * The key file's key. Anything else than the 32 bytes Roster wrote is refused, never used: an
 * empty or cut file would derive every purpose's key from what is left, which anyone can
 * compute, and secrets sealed under it would be readable by whoever has the database.
 */
function keyOf(text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES)
    throw new AppError(
      503,
      'secret_key.invalid',
      `The secret key file (${KEY_FILE} in the data directory) holds ${key.length} bytes instead of ${KEY_BYTES}, so secrets cannot be sealed or opened. Restore it from a backup, or set ROSTER_SECRET_KEY; if no secret was stored yet, delete it and Roster makes a new one.`,
    );
  return key;
}

function readOrCreateKeyFile(dataDir: string): Buffer {
  const file = path.join(dataDir, KEY_FILE);
  try {
    return keyOf(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  // Written whole beside it, then linked into place: the key file appears with its content or
  // not at all. Created in place ('wx', then write), it existed empty for a moment (another
  // process starting then read no key), and stayed empty when the write failed on a full disk.
  const staged = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const descriptor = openSync(staged, 'wx', 0o600);
    try {
      writeFileSync(descriptor, `${key.toString('base64')}\n`);
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    // A link fails if the name exists: another process made the key meanwhile, use theirs.
    linkSync(staged, file);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return keyOf(readFileSync(file, 'utf8'));
  } finally {
    rmSync(staged, { force: true });
  }
}

/** The HKDF info of each kind of secret: one master key, a separate key per purpose. */
export const SECRET_PURPOSES = {
  ssoClientSecret: 'roster sso oidc client secret',
  upstreamHeaders: 'roster mcp upstream headers',
  webhookSigningSecret: 'roster webhook signing secret',
  oauth: 'roster oauth clients and signing key',
} as const;

/**
 * A box for one kind of secret (`purpose` derives its own key from the master key). The key is
 * loaded lazily (first seal or open), so a server that stores no secret never writes a key file.
 */
export function createSecretBox(source: {
  /** ROSTER_SECRET_KEY, checked by config.ts; undefined: the key file. */
  secretKey: string | undefined;
  dataDir: string;
  /** HKDF info: each kind of secret gets its own key, so one kind's ciphertext never opens as another's. */
  purpose: string;
}): SecretBox {
  let key: Buffer | undefined;
  const derivedKey = (): Buffer => {
    if (key !== undefined) return key;
    const material =
      source.secretKey === undefined
        ? readOrCreateKeyFile(source.dataDir)
        : Buffer.from(source.secretKey, 'utf8');
    // A purpose-bound key: the same master key protects several kinds of secrets.
    key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), source.purpose, 32));
    return key;
  };

  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', derivedKey(), iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [FORMAT, iv, cipher.getAuthTag(), ciphertext]
        .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
        .join('.');
    },
    open(sealed, context) {
      const [format, iv, tag, ciphertext] = sealed.split('.');
      if (format !== FORMAT || iv === undefined || tag === undefined || ciphertext === undefined) {
        throw new Error('unknown secret format');
      }
      const decipher = createDecipheriv('aes-256-gcm', derivedKey(), Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    },
  };
}
