/**
 * A preload for bench/sqlite-plans.mjs: every SQL text better-sqlite3 prepares, appended to
 * ROSTER_SQL_TRACE_DIR/PID.sql (one JSON string a line), in every process and thread that loads it
 * (`NODE_OPTIONS="--require ./bench/lib/sqlite-trace.cjs"` reaches the test workers' forks and the
 * SQLite writer thread). Statements are prepared once per connection, so the files stay small.
 */
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.ROSTER_SQL_TRACE_DIR;
if (dir) {
  const Database = require('better-sqlite3');
  if (!Database.prototype.prepare.traced) {
    const prepare = Database.prototype.prepare;
    const traced = function tracedPrepare(source, ...rest) {
      try {
        fs.appendFileSync(path.join(dir, `${process.pid}.sql`), `${JSON.stringify(source)}\n`);
      } catch {
        // A trace that cannot be written is no reason to fail the statement.
      }
      return prepare.call(this, source, ...rest);
    };
    traced.traced = true;
    Database.prototype.prepare = traced;
  }
}
