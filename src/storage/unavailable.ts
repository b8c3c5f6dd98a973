// Which database errors mean "the database is away or overloaded right now" (answer 503 and
// let the client retry) rather than "this is a bug" (500). Connection, pool and lock-wait
// failures pass; a retry after a MariaDB restart or failover succeeds. So do a missing
// database or table: a replica that has not yet applied the schema, or a database being
// restored (the error is logged for the operator; the client is told to retry).
const TRANSIENT_CODES = new Set([
  'ER_NO_SUCH_TABLE', 'ER_BAD_DB_ERROR',
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK', 'ER_QUERY_INTERRUPTED', 'SQLITE_BUSY', 'SQLITE_LOCKED',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { name?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    // knex's pool gave up waiting for a connection.
    if (e.name === 'KnexTimeoutError') return true;
    if (typeof e.code === 'string' && (TRANSIENT_CODES.has(e.code) || e.code.startsWith('SQLITE_BUSY'))) return true;
  }
  return false;
}
