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

/**
 * Who a console session belongs to: a collaborator (password or SSO), or an end user whose groups
 * carry the Admin or Read Only role (SSO only).
 */
export const ConsolePrincipal = Type.Union([
  Type.Literal('collaborator'),
  Type.Literal('end_user'),
]);
export type ConsolePrincipal = Static<typeof ConsolePrincipal>;

export const ConsoleSession = Type.Object({
  /** The signed-in person: a collaborator's member ID, or an end user's ID when `principal` is `end_user`. */
  member: Type.Object({ id: Type.Integer(), name: Type.String(), email: Type.String() }),
  principal: ConsolePrincipal,
  workspace: Type.Object({ id: Type.Integer(), name: Type.String() }),
  access: ConsoleAccess,
  /**
   * What the session may read: every environment of the workspace for a collaborator; for an end
   * user, the environments of its groups with a console role.
   */
  environment_types: Type.Array(Type.String()),
  /** Environments where the collaborator holds Admin (an end user: a group with Admin): what they may change. */
  writable_environment_types: Type.Array(Type.String()),
  /** Send back as `X-CSRF-Token` on every write made with the session cookie. */
  csrf_token: Type.String(),
  expires_at: Type.String({ format: 'date-time' }),
  /**
   * How the server delivers mail (invitations): `smtp` sends it (ROSTER_SMTP_URL is set);
   * `outbox` only appends it to the outbox file on the server, so nobody receives it.
   */
  mail_delivery: Type.Union([Type.Literal('smtp'), Type.Literal('outbox')]),
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

export const ConsoleSsoStatus = Type.Object({
  /** True when the sign-in page should offer "Sign in with SSO". */
  available: Type.Boolean(),
  /** Where the browser goes to start it (null when not available). */
  login_url: Type.Union([Type.String(), Type.Null()]),
});
export type ConsoleSsoStatus = Static<typeof ConsoleSsoStatus>;

export const ConsoleSsoQuery = Type.Object({
  /** The workspace to sign in to; optional when only one workspace has an enabled connection. */
  workspace: Type.Optional(Type.String({ pattern: '^[0-9]{1,10}$' })),
});
export type ConsoleSsoQuery = Static<typeof ConsoleSsoQuery>;
