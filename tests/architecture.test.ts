/**
 * The dependency check of `npm run lint` (dependency-cruiser with .dependency-cruiser.cjs), run as
 * the lint runs it: on the real sources it must pass, and on small trees laid out like the server
 * it must refuse a cycle between modules and an import against the layering (docs/architecture.md).
 * Without these, a rule that silently matches nothing (a mistyped path) would pass forever.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = path.join(root, '.dependency-cruiser.cjs');
const depcruise = path.join(root, 'node_modules', '.bin', 'depcruise');

function runCheck(cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      depcruise,
      ['packages', '--config', config],
      { cwd, timeout: 110_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

const trees: string[] = [];
afterEach(() => {
  for (const dir of trees.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A throwaway tree with the server's layout: `files` maps paths under packages/server/src. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-deps-'));
  trees.push(dir);
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }),
  );
  for (const [file, text] of Object.entries(files)) {
    const full = path.join(dir, 'packages/server/src', file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return dir;
}

// A cruise of the whole tree takes seconds, more on a loaded machine.
describe('the dependency check of npm run lint', { timeout: 120_000 }, () => {
  it('passes on the sources as they are', async () => {
    const result = await runCheck(root);
    expect(result.output).toContain('no dependency violations found');
    expect(result.code).toBe(0);
  });

  it('fails on a cycle between two modules, even through different files', async () => {
    const dir = tree({
      'modules/people/people.service.ts':
        "import { teamName } from '../teams/teams.repository.js';\nexport const person = () => teamName();\n",
      'modules/people/people.repository.ts': 'export const personName = () => "ada";\n',
      'modules/teams/teams.repository.ts': 'export const teamName = () => "core";\n',
      'modules/teams/teams.service.ts':
        "import { personName } from '../people/people.repository.js';\nexport const team = () => personName();\n",
    });
    const result = await runCheck(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('no-module-cycle');
  });

  it('fails on a cycle between two files', async () => {
    const dir = tree({
      'lib/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'lib/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    const result = await runCheck(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('no-circular');
  });

  it('fails when lib/ or http/ imports a module', async () => {
    const dir = tree({
      'modules/teams/teams.service.ts': 'export const team = () => "core";\n',
      'lib/names.ts':
        "import { team } from '../modules/teams/teams.service.js';\nexport const n = team;\n",
      'http/auth.ts':
        "import { team } from '../modules/teams/teams.service.js';\nexport const t = team;\n",
    });
    const result = await runCheck(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('lib-is-a-leaf');
    expect(result.output).toContain('http-knows-no-module');
  });
});
