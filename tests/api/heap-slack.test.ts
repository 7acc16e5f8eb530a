/**
 * ROSTER_HEAP_SLACK_MB (lib/heap-tuning.ts): how far the old generation may grow past what the last
 * full collection left alive. Its effect on the checks' tail latency is a measurement, not a test
 * assertion (docs/performance.md, "Seventeenth round"); here, that the setting is read as
 * documented and bad values are refused with a clear message.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_SLACK_MB, loadConfig } from '../../packages/server/src/config.js';

describe('ROSTER_HEAP_SLACK_MB', () => {
  it('defaults to 64 MB, takes 0 (V8’s own sizing) and whole numbers of MB', () => {
    expect(DEFAULT_HEAP_SLACK_MB).toBe(64);
    expect(loadConfig({}).heapSlackMb).toBe(64);
    expect(loadConfig({ ROSTER_HEAP_SLACK_MB: '' }).heapSlackMb).toBe(64);
    expect(loadConfig({ ROSTER_HEAP_SLACK_MB: '0' }).heapSlackMb).toBe(0);
    expect(loadConfig({ ROSTER_HEAP_SLACK_MB: '256' }).heapSlackMb).toBe(256);
  });

  it('refuses what is not a whole number of MB from 0 to 65536', () => {
    for (const bad of ['-1', '1.5', 'lots', '65537'])
      expect(() => loadConfig({ ROSTER_HEAP_SLACK_MB: bad })).toThrow(/ROSTER_HEAP_SLACK_MB/);
  });
});
