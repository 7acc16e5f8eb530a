/**
 * Okta's SCIM 2.0 SPEC test (the Runscope export Okta requires before listing an integration),
 * replayed against a started server by the dependency-free replayer beside it.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import {
  conformanceDir,
  conformanceMissing,
  createConnection,
  hasConformance,
  runNode,
  TARGETS,
} from './helpers.js';

const FILES = ['run-runscope.mjs', 'Okta-SCIM-20-SPEC-Test.json'];
const available = hasConformance(...FILES);

it.skipIf(available)(conformanceMissing("Okta's SCIM 2.0 SPEC test", FILES), () => undefined);

describe.skipIf(!available).each(TARGETS)(
  "Okta's SCIM 2.0 SPEC test against a %s connection",
  (target) => {
    let roster: Roster;
    beforeAll(async () => {
      roster = await startRoster();
    });
    afterAll(async () => {
      await roster.close();
    });

    it('passes all 52 assertions', async () => {
      const connection = await createConnection(roster, 'dev', target);
      const run = await runNode([
        path.join(conformanceDir, 'run-runscope.mjs'),
        path.join(conformanceDir, 'Okta-SCIM-20-SPEC-Test.json'),
        '--base',
        `${roster.url}/scim/v2/${connection.id}`,
        '--token',
        connection.token,
        '--seed',
      ]);
      const summary = run.stdout.trim().split('\n').at(-1);
      expect(run.stdout).not.toContain('FAIL');
      expect(summary).toBe('52 passed, 0 failed');
      expect(run.code).toBe(0);
    });
  },
);
