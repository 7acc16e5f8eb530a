import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

describe('first start', () => {
  it('answers the health check', async () => {
    const res = await roster.get('/healthz', null);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('creates the system group All collaborators', async () => {
    const res = await roster.call('listUserGroups');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      expect.objectContaining({ name: 'All collaborators', system: true }),
    ]);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
  });
});
