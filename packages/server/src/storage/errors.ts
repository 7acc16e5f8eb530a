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

/**
 * A failure of the database itself rather than of the request: the HTTP layer answers it with this
 * status and message (no driver text), and logs the driver's error beside it.
 */
export interface StorageFault {
  /** 503: unavailable, busy or failing for now, retry later; 507: out of disk space. */
  status: 503 | 507;
  code: string;
  message: string;
}

/** Seconds a client should wait before retrying a 503 of the store (the Retry-After header). */
export const STORAGE_RETRY_AFTER_SECONDS = 2;

const UNAVAILABLE: StorageFault = {
  status: 503,
  code: 'storage.unavailable',
  message: 'The database is unavailable; the request was not completed. Retry in a few seconds.',
};

/** What pg and Node say when the connection to PostgreSQL is refused, lost or never completes. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'is not queryable',
];
/**
 * The code of the error a statement gets when the PostgreSQL driver thread that ran it stopped
 * (storage/postgres-thread.ts): like a lost connection, the database's state is unknown and a
 * retry goes to a new thread.
 */
export const DRIVER_THREAD_LOST = 'ROSTER_POSTGRES_THREAD_LOST';
/** The same for the SQLite writer thread (storage/sqlite-writer.ts): a new one takes the next write. */
export const SQLITE_WRITER_LOST = 'ROSTER_SQLITE_WRITER_LOST';
const SOCKET_CODES = new Set([
  DRIVER_THREAD_LOST,
  SQLITE_WRITER_LOST,
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Classifies database faults once for both dialects: a full disk (SQLITE_FULL, PostgreSQL 53100),
 * a database that is down, restarting or unreachable (socket errors, SQLSTATE class 08, 57P01-03,
 * 53300 too many connections), busy or locked (SQLITE_BUSY, SQLITE_LOCKED, 55P03), a deadlock or
 * serialization failure that rolled the transaction back (40P01, 40001), timed out
 * (57014), failing I/O (SQLITE_IOERR, 58030) or read-only (SQLITE_READONLY, 25006).
 */
export function storageFault(error: unknown): StorageFault | undefined {
  const code = driverCode(error) ?? '';
  // A file the server writes beside its database (the mail outbox) on the same full disk.
  if (code === 'ENOSPC') {
    return {
      status: 507,
      code: 'storage.full',
      message:
        'The server is out of disk space; the request was not completed. Free space on the server, then retry.',
    };
  }
  if (code === 'SQLITE_FULL' || code === '53100') {
    return {
      status: 507,
      code: 'storage.full',
      message:
        'The database is out of disk space; the change was not saved. Free space on the server, then retry.',
    };
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code === '55P03') {
    return {
      status: 503,
      code: 'storage.busy',
      message: 'The database is busy (locked by another writer); the change was not saved. Retry.',
    };
  }
  // PostgreSQL chose this transaction as the victim of a deadlock (40P01) or of a serialization
  // failure (40001) with a concurrent one: it was rolled back whole, and the same request sent
  // again resolves it (the other transaction has finished by then).
  if (code === '40P01' || code === '40001') {
    return {
      status: 503,
      code: 'storage.conflict',
      message:
        'The change collided with a concurrent change to the same data and was rolled back; nothing was saved. Retry.',
    };
  }
  if (code.startsWith('SQLITE_IOERR') || code === '58030') {
    return {
      status: 503,
      code: 'storage.io_error',
      message:
        'The database could not read or write its files (I/O error); the request was not completed.',
    };
  }
  if (code.startsWith('SQLITE_READONLY') || code === '25006' || code === 'EROFS') {
    return {
      status: 503,
      code: 'storage.read_only',
      message:
        'The database is read-only; the change was not saved. Check that the data directory (ROSTER_DATA_DIR) is writable.',
    };
  }
  if (code === 'SQLITE_CANTOPEN') return UNAVAILABLE;
  if (code === '57014') {
    return {
      status: 503,
      code: 'storage.timeout',
      message: 'The database did not answer in time; the request was not completed. Retry.',
    };
  }
  if (
    SOCKET_CODES.has(code) ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300' ||
    code === '53200'
  )
    return UNAVAILABLE;
  if (error instanceof Error && CONNECTION_MESSAGES.some((text) => error.message.includes(text)))
    return UNAVAILABLE;
  return undefined;
}
