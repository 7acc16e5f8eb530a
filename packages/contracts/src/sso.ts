/**
 * SSO sign-up with OpenID Connect: the per-workspace connection (`/api/sso/oidc`) and what the
 * public sign-in callback answers. The client secret is write-only: it is accepted by PUT and
 * never returned (`client_secret_set` says whether one is stored).
 */
import { Type, type Static } from 'typebox';
import { EnvironmentType, Nullable, Timestamp } from './common.js';
import { EndUser } from './end-users.js';

/** An absolute http(s) URL; the server also requires https except for loopback hosts. */
const IssuerUrl = Type.String({
  minLength: 8,
  maxLength: 2000,
  format: 'uri',
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
});
/** A DNS name such as `example.com` (no wildcard, no scheme, no port). */
export const EmailDomain = Type.String({
  minLength: 3,
  maxLength: 253,
  pattern:
    '^(?=.{3,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$',
});
/** Claim names are JSON keys; namespaced ones such as `https://example.com/groups` are common. */
const ClaimName = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.:/-]+$' });
/** RFC 6749 scope-token characters. */
const Scope = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$',
});

export const PutSsoOidcBody = Type.Object(
  {
    issuer_url: IssuerUrl,
    client_id: Type.String({ minLength: 1, maxLength: 500 }),
    client_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    allowed_domains: Type.Array(EmailDomain, { minItems: 1, maxItems: 100 }),
    groups_claim: Type.Optional(Nullable(ClaimName)),
    environment_types: Type.Array(EnvironmentType, { minItems: 1, maxItems: 20 }),
    scopes: Type.Optional(Type.Array(Scope, { minItems: 1, maxItems: 20 })),
    enabled: Type.Optional(Type.Boolean()),
    console_sign_in: Type.Optional(
      Type.Boolean({
        description:
          'Also sign collaborators, and end users in a group with the Admin or Read Only role, in to the admin console (the provider must say email_verified: true). Off unless set: a PUT without it turns it off.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PutSsoOidcBody = Static<typeof PutSsoOidcBody>;

export const SsoOidcConnection = Type.Object({
  issuer_url: Type.String(),
  client_id: Type.String(),
  /** The secret itself is never returned. */
  client_secret_set: Type.Boolean(),
  allowed_domains: Type.Array(Type.String()),
  groups_claim: Nullable(Type.String()),
  environment_types: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  /** Whether the connection also signs people in to the admin console (opt-in). */
  console_sign_in: Type.Boolean(),
  /** Register this as the redirect URI at the provider. */
  redirect_uri: Type.String(),
  /** Where end users start signing in. */
  login_url: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type SsoOidcConnection = Static<typeof SsoOidcConnection>;

export const SsoLoginQuery = Type.Object({
  workspace: Type.String({ pattern: '^[0-9]{1,10}$' }),
});

/** The provider's redirect back: a code and state, or an error (RFC 6749 §4.1.2). */
export const SsoCallbackQuery = Type.Object(
  {
    code: Type.Optional(Type.String({ maxLength: 4000 })),
    state: Type.Optional(Type.String({ maxLength: 500 })),
    error: Type.Optional(Type.String({ maxLength: 200 })),
    error_description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: true },
);
export type SsoCallbackQuery = Static<typeof SsoCallbackQuery>;

export const SsoSignIn = Type.Object({
  /** True when this sign-in created the end user (just-in-time provisioning). */
  created: Type.Boolean(),
  end_user: EndUser,
  /** The user's non-system groups after the sign-in. */
  groups: Type.Array(
    Type.Object({ id: Type.Integer(), name: Type.String(), environment_type: Type.String() }),
  ),
});
export type SsoSignIn = Static<typeof SsoSignIn>;
