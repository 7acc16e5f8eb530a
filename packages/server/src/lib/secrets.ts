import { hash, timingSafeEqual } from 'node:crypto';

/**
 * Tokens are random 256-bit secrets, so one SHA-256 is enough to store them (no password
 * stretching needed); the hash is what the database keeps and what lookups use. The one-shot
 * `crypto.hash` costs a third of a createHash() object's update/digest: every API request hashes
 * its token.
 */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
