import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Tokens are random 256-bit secrets, so one SHA-256 is enough to store them (no password
 * stretching needed); the hash is what the database keeps and what lookups use.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
