/**
 * The admin console's own endpoints (`/api/console/*`): password sign-in with cookie sessions,
 * the one-time setup of the first admin, and invitation acceptance with a password. Everything
 * else the console shows comes from the public API, through the same session cookie.
 */
import { Type, type Static } from 'typebox';

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' });
/** Long enough to resist guessing; bounded so scrypt never hashes megabytes. */
export const PASSWORD_MIN_LENGTH = 10;
const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: 200 });

export const SignInBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 200 }),
});
export type SignInBody = Static<typeof SignInBody>;

/** `admin` may change what its environments hold; `read_only` sees everything and changes nothing. */
export const ConsoleAccess = Type.Union([Type.Literal('admin'), Type.Literal('read_only')]);
export type ConsoleAccess = Static<typeof ConsoleAccess>;

export const ConsoleSession = Type.Object({
  member: Type.Object({ id: Type.Integer(), name: Type.String(), email: Type.String() }),
  workspace: Type.Object({ id: Type.Integer(), name: Type.String() }),
  access: ConsoleAccess,
  /** Every environment of the workspace (all readable). */
  environment_types: Type.Array(Type.String()),
  /** Environments where the collaborator holds Admin: what they may change. */
  writable_environment_types: Type.Array(Type.String()),
  /** Send back as `X-CSRF-Token` on every write made with the session cookie. */
  csrf_token: Type.String(),
  expires_at: Type.String({ format: 'date-time' }),
});
export type ConsoleSession = Static<typeof ConsoleSession>;

export const SetupStatus = Type.Object({
  /** True until a first console admin exists: the console then shows its setup page. */
  setup_required: Type.Boolean(),
});
export type SetupStatus = Static<typeof SetupStatus>;

export const SetupBody = Type.Object({
  /** The workspace's admin API token (printed at first start, or ROSTER_ADMIN_TOKEN). */
  admin_token: Type.String({ minLength: 1, maxLength: 500 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  email: Email,
  password: Password,
});
export type SetupBody = Static<typeof SetupBody>;

export const AcceptWithPasswordBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  password: Password,
});
export type AcceptWithPasswordBody = Static<typeof AcceptWithPasswordBody>;
