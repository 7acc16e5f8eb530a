/** The source of "now" for every service, so tests can move time (expiry, cooldowns). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** ISO-8601 UTC with milliseconds: fixed width, so stored timestamps compare as strings. */
export function isoNow(clock: Clock): string {
  return clock.now().toISOString();
}

/** Normalises any accepted date-time input to the stored form. */
export function toStoredTimestamp(value: string): string {
  return new Date(value).toISOString();
}
