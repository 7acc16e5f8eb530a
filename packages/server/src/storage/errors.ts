/**
 * Driver errors translated once per dialect, so services and the HTTP layer never look at
 * SQLite or PostgreSQL error codes.
 */
interface DriverError {
  code?: unknown;
}

function driverCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as DriverError).code;
  return typeof code === 'string' ? code : undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  const code = driverCode(error);
  // SQLite (better-sqlite3) and PostgreSQL (23505) spellings of the same constraint failure.
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  );
}

export function isForeignKeyViolation(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** Serialisation failures and deadlocks that a retry of the whole transaction resolves. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = driverCode(error);
  return code === '40001' || code === '40P01' || code === 'SQLITE_BUSY';
}

/**
 * Values PostgreSQL refuses but SQLite stores: numbers beyond the column's range (22003) and text
 * with NUL characters (22021, 22P05). They are bad input, not server faults. Request schemas
 * keep such values out (bounded numbers, finite query numbers, NUL refused); the rest of this
 * list is the safety net for a value a schema still lets through: text that is no number
 * (22P02), an unusable date-time (22007, 22008), a negative LIMIT/OFFSET (2201W, 2201X), and
 * SQLite's datatype mismatch (a non-finite LIMIT/OFFSET).
 */
const INVALID_VALUE_CODES = new Set([
  '22003',
  '22021',
  '22P05',
  '22P02',
  '22007',
  '22008',
  '2201W',
  '2201X',
  'SQLITE_MISMATCH',
]);

export function isInvalidValue(error: unknown): boolean {
  const code = driverCode(error);
  return code !== undefined && INVALID_VALUE_CODES.has(code);
}
