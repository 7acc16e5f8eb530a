import { randomBytes, randomInt } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomChars(length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += ALPHABET.charAt(randomInt(ALPHABET.length));
  return out;
}

/** IDs shaped like the reference API's string IDs: `am-WxEKCibh-dTXBtz` (prefix, 8, 7). */
export function newPrefixedId(prefix: 'am' | 'pr' | 'pg'): string {
  return `${prefix}-${randomChars(8)}-${randomChars(7)}`;
}

/** A secret with a recognisable prefix, so leaked tokens can be found by secret scanners. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
