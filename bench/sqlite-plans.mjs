/**
 * Which statements SQLite plans on a workspace index (`*_workspace_idx`, migration 0012 and its
 * kin) when they also filter on a more selective column: SQLite keeps no planner statistics, and
 * between two single-column equalities it may take the workspace's, reading every row of the
 * workspace to find one entity's (docs/performance.md, "Eighteenth round").
 *
 *   mkdir -p /tmp/sql-trace && ROSTER_SQL_TRACE_DIR=/tmp/sql-trace \
 *     NODE_OPTIONS="--require ./bench/lib/sqlite-trace.cjs" npx vitest run tests/api tests/scim
 *   node bench/sqlite-plans.mjs /tmp/sql-trace
 *
 * Prints each such statement (its WHERE clause) and its plan, on a freshly migrated database.
 * Statements that filter on the workspace alone (lists, loads) are the index's purpose and are
 * not printed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startRosterApp } from './lib/roster-app.mjs';

const traceDir = process.argv[2];
if (traceDir === undefined) {
  console.error('usage: node bench/sqlite-plans.mjs TRACE_DIR (see the comment at the top)');
  process.exit(2);
}
const work = mkdtempSync(path.join(tmpdir(), 'roster-sqlite-plans-'));
const file = path.join(work, 'roster.db');
const { app, store } = await startRosterApp({
  databaseUrl: file,
  dataDir: work,
  token: 'rst_bench_admin_token_0123456789',
  migrate: true,
});
await app.close();
await store.close();
const db = new Database(file, { readonly: true });

const statements = new Set();
for (const name of readdirSync(traceDir))
  for (const line of readFileSync(path.join(traceDir, name), 'utf8').split('\n'))
    if (line !== '') statements.add(JSON.parse(line));

let flagged = 0;
for (const statement of statements) {
  if (!/^\s*(select|with|update|delete)/i.test(statement)) continue;
  let plan;
  try {
    // Unbound parameters are planned as NULL: the plan does not depend on the values.
    const parameters = Array((statement.match(/\?/g) ?? []).length).fill(null);
    plan = db
      .prepare(`explain query plan ${statement}`)
      .all(...parameters)
      .map((row) => row.detail);
  } catch {
    continue;
  }
  const onWorkspace = plan.filter((detail) => /_workspace_idx \(workspace_id=\?\)$/.test(detail));
  if (onWorkspace.length === 0) continue;
  const where = statement.replace(/\s+/g, ' ').replace(/^.*? where /i, '');
  // Another equality on the table's own columns (not a join's): `"x"."col" = ?` or `"col" = ?`.
  const others = [...where.matchAll(/(?:"\w+"\.)?"(\w+)" (?:=|in) \(?\?/g)]
    .map((match) => match[1])
    .filter((column) => column !== 'workspace_id' && column !== 'type');
  if (others.length === 0) continue;
  flagged += 1;
  console.log(`${where.slice(0, 300)}\n  ${onWorkspace.join(' | ')}\n`);
}
console.log(
  `${flagged} of ${statements.size} traced statements planned on a workspace index with a narrower filter`,
);
db.close();
rmSync(work, { recursive: true, force: true });
