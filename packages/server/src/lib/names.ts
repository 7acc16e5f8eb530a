/**
 * Names of things unique in their scope (groups, features, policies): stored trimmed, never blank,
 * compared by their lower-case key. One rule for every module that names things.
 */
import { badRequest } from './errors.js';

/** The trimmed name and its key; 400 "Name can't be blank" (with the module's code) otherwise. */
export function nameAndKey(
  name: string | undefined,
  blankCode: string,
): { name: string; key: string } {
  const trimmed = (name ?? '').trim();
  if (trimmed === '') throw badRequest(blankCode, "Name can't be blank");
  return { name: trimmed, key: trimmed.toLowerCase() };
}
