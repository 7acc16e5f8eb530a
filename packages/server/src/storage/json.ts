/** JSON columns are text in both dialects (see database.ts). */
export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

// T is the shape the column was written with (by toJson): reading it back is an assertion by design,
// the same one Kysely makes for every column type. Callers in several modules name T explicitly.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export function fromJson<T>(text: string): T;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export function fromJson<T>(text: string | null): T | null;
export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export const toFlag = (value: boolean): number => (value ? 1 : 0);
export const fromFlag = (value: number): boolean => value === 1;
