// Times `roster apply` (dry run, apply, re-apply) and `roster export` on a generated workspace
// document against a `roster serve` on a fresh SQLite file (or ROSTER_DATABASE_URL): the wall time
// of each CLI run, Node start-up included. Usage: npm run build && node bench/apply.mjs [groups]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLI = path.resolve('packages/server/dist/cli.js');
const size = Number(process.argv[2] ?? 200);
const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-bench-apply-'));
const token = 'rst_bench_apply_admin_token_0123';
const env = {
  ...process.env,
  ROSTER_DATA_DIR: dir,
  ROSTER_ADMIN_TOKEN: token,
  ROSTER_RATE_LIMIT_PER_MINUTE: '0',
  ROSTER_LOG_LEVEL: 'warn',
  PORT: '0',
  HOST: '127.0.0.1',
};

const server = spawn(process.execPath, [CLI, 'serve'], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve) => {
  let out = '';
  server.stdout.on('data', (chunk) => {
    out += chunk;
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (match) resolve(match[1]);
  });
});

const document = {
  version: 1,
  roles: [],
  environment_roles: [],
  project_roles: [{ name: 'Reader', config: { recipe: { privileges: ['read'] } } }],
  groups: Array.from({ length: size }, (_, i) => ({ name: `Group ${i}`, description: null })),
  projects: Array.from({ length: size }, (_, i) => ({
    environment: 'dev',
    name: `Project ${i}`,
    description: null,
  })),
  grants: Array.from({ length: size * 2 }, (_, i) => ({
    project: { environment: 'dev', name: `Project ${i % size}` },
    role: 'Reader',
    group: `Group ${(i * 7 + Math.floor(i / size)) % size}`,
    expires_at: null,
  })),
  end_user_groups: [],
  features: Array.from({ length: 20 }, (_, i) => ({
    environment: 'prod',
    kind: 'mcp_server',
    name: `Feature ${i}`,
    description: null,
    access: { groups: ['Everyone'], end_users: [] },
  })),
  policies: Array.from({ length: 20 }, (_, i) => ({
    environment: 'prod',
    feature: `Feature ${i}`,
    name: `Policy ${i}`,
    description: null,
    tools: ['write'],
    scope: { type: 'all', targets: [] },
    effect: 'require_approval',
  })),
};
// Two grants may land on the same (project, group) pair: keep one of each.
const seen = new Set();
document.grants = document.grants.filter((g) => {
  const k = `${g.project.name}|${g.group}`;
  if (seen.has(k)) return false;
  seen.add(k);
  return true;
});
const file = path.join(dir, 'workspace.json');
writeFileSync(file, JSON.stringify(document));
const objects = Object.values(document)
  .filter(Array.isArray)
  .reduce((n, list) => n + list.length, 0);

function time(label, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...env, ROSTER_URL: url, ROSTER_TOKEN: token },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${label}: ${result.stderr}`);
  const last = result.stdout.trim().split('\n').at(-1);
  console.log(
    `${label.padEnd(22)} ${ms.toFixed(0).padStart(6)} ms  ${label.startsWith('export') ? `${result.stdout.length} bytes` : last}`,
  );
}

console.log(
  `document: ${objects} objects (${document.groups.length} groups, ${document.projects.length} projects, ${document.grants.length} grants, 20 features, 20 policies)`,
);
time('apply --dry-run', ['apply', file, '--dry-run']);
time('apply', ['apply', file]);
time('apply again (no-op)', ['apply', file]);
time('export', ['export']);
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
rmSync(dir, { recursive: true, force: true });
