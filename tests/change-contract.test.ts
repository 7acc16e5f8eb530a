/**
 * The change contract at compile time (docs/decisions.md, "Keeping it current"): every audit write
 * names its target kind with the union the change feed's subscribers switch over
 * (modules/audit/change-kinds.ts), so a write with a kind they do not know must not compile. The
 * compiler is the interface here: small files that call the real write functions are type-checked
 * against the real sources, as `npm run typecheck` would check a new call site. Without this, the
 * write side could silently go back to `string` and the guarantee would be lost with every test
 * still green.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
const audit = path.join(root, 'packages/server/src/modules/audit/audit.repository.js');
const scim = path.join(root, 'packages/server/src/modules/scim/scim.repository.js');
const database = path.join(root, 'packages/server/src/storage/database.js');

const header = `
import { insertAuditEvent, recordChange } from ${JSON.stringify(audit)};
import { insertScimAuditEvent } from ${JSON.stringify(scim)};
import type { Executor } from ${JSON.stringify(database)};
declare const db: Executor;
declare const ctx: Parameters<typeof recordChange>[1];
declare const actor: Parameters<typeof insertAuditEvent>[1]['actor'];
declare const connection: Parameters<typeof insertScimAuditEvent>[1]['actor'];
`;

/** One probe per write function, with a known kind and with one no subscriber knows. */
function probes(kind: string): string {
  const k = JSON.stringify(kind);
  return `${header}
export const viaRecordChange = () => recordChange(db, ctx, '', 'probe.created', [${k}, 1]);
export const viaInsert = () =>
  insertAuditEvent(db, { workspaceId: 1, actor, action: 'probe', targetType: ${k}, targetId: 1, createdAt: '' });
export const viaScim = () =>
  insertScimAuditEvent(db, { workspaceId: 1, actor: connection, action: 'probe', targetType: ${k}, targetId: 1, createdAt: '' });
`;
}

let dir = '';
let output = '';
let exitCode = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'roster-contract-'));
  // ES modules, like the server's sources.
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(path.join(dir, 'known.ts'), probes('feature'));
  writeFileSync(path.join(dir, 'unknown.ts'), probes('feature_flag'));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(root, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true,
        composite: false,
        declaration: false,
        typeRoots: [path.join(root, 'node_modules', '@types')],
      },
      files: ['known.ts', 'unknown.ts'],
    }),
  );
  ({ code: exitCode, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      tsc,
      ['-p', dir, '--pretty', 'false'],
      { cwd: dir, timeout: 110_000 },
      (error, stdout) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, output: stdout });
      },
    );
  }));
}, 120_000);

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('the write side of the change contract', () => {
  it('compiles a write whose target kind the subscribers know', () => {
    expect(
      output
        .split('\n')
        .filter((line) => line.includes('known.ts') && !line.includes('unknown.ts')),
    ).toEqual([]);
  });

  it('refuses to compile a write with a target kind the subscribers do not know, through each write function', () => {
    expect(exitCode).not.toBe(0);
    const errors = output.split('\n').filter((line) => line.startsWith('unknown.ts'));
    // recordChange (line 10), insertAuditEvent (line 12), insertScimAuditEvent (line 14) of the probe.
    for (const line of [10, 12, 14]) {
      const error = errors.find((text) => text.startsWith(`unknown.ts(${line},`));
      expect(error, `no error on line ${line}:\n${output}`).toBeDefined();
      expect(error).toMatch(/error TS2322: Type '"feature_flag"' is not assignable/);
    }
    expect(errors).toHaveLength(3);
  });
});
