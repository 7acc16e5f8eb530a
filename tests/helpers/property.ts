/**
 * Settings shared by the property tests (fast-check driving a real server). Their work is bounded
 * (a fixed number of runs, each a bounded sequence of writes and questions), but the time it takes
 * is not: on a loaded two-core machine a run can take many times what it takes on an idle one. A
 * test's outcome must not depend on the machine's speed, so the time limit is only a backstop
 * against a hang, far above any slow-but-sound run, and grows with the number of runs asked for.
 */

/** ROSTER_PROPERTY_RUNS (a whole number ≥ 1), else `fallback`: how many sequences fast-check tries. */
export function propertyRuns(fallback: number): number {
  const raw = process.env.ROSTER_PROPERTY_RUNS;
  if (raw === undefined || raw === '') return fallback;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`ROSTER_PROPERTY_RUNS must be a whole number from 1, got "${raw}"`);
  }
  return runs;
}

/** A generous limit for `runs` runs: `perRunMs` each (many times an idle machine's), plus setup. */
export function propertyTimeout(runs: number, perRunMs: number): number {
  return 5 * 60_000 + runs * perRunMs;
}

/** A limit for a property test's beforeAll: starting servers and seeding, whatever the load. */
export const PROPERTY_SETUP_TIMEOUT_MS = 10 * 60_000;
