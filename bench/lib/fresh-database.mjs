/**
 * A fresh database for one benchmark run: a SQLite file in a new temporary folder, or, for
 * `store: 'postgres'`, a new database made from ROSTER_BENCH_DATABASE_URL (its server's default
 * template, UTF-8). `drop()` removes it and the folder. Shared by bench/end-user-writes.mjs and
 * bench/audit-filters.mjs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export async function freshDatabase({ store, name }) {
  const work = mkdtempSync(path.join(tmpdir(), `roster-bench-${name}-`));
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  if (store !== 'postgres')
    return { work, databaseUrl: path.join(work, 'roster.db'), drop: async () => removeWork() };
  const base = process.env.ROSTER_BENCH_DATABASE_URL;
  if (base === undefined) throw new Error('--store postgres needs ROSTER_BENCH_DATABASE_URL');
  const database = `roster_bench_${name.replaceAll('-', '_')}_${process.pid}`;
  const admin = async (statement) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8'`);
  const url = new URL(base);
  url.pathname = `/${database}`;
  return {
    work,
    databaseUrl: url.toString(),
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      removeWork();
    },
  };
}
