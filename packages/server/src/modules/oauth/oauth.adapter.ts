/**
 * oidc-provider's storage adapter on Roster's database (table `oauth_records`, migration 0019):
 * every instance on the same PostgreSQL database sees the same clients, codes and tokens, and a
 * restart loses none of them.
 *
 * Ids are stored as their SHA-256: for opaque access tokens, refresh tokens, authorization codes
 * and registration access tokens the id is the credential itself, so a database dump holds no
 * usable token. The library repeats the id in the payload (`jti`): it is left out when stored and
 * put back from the id a lookup was made with. The models that carry a secret in their payload
 * (registered clients' secrets, Roster's signing key) are sealed with the server's secret key
 * (lib/secret-box.ts), and so are the models the library also looks up by something other than
 * their id (sessions by uid, device codes by user code), whose `jti` (the session cookie) must
 * stay in the payload.
 */
import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { SecretBox } from '../../lib/secret-box.js';
import type { Db } from '../../storage/database.js';

const SEALED_MODELS = new Set(['Client', 'RosterKey', 'Session', 'DeviceCode']);
/** Sealed since a later release: rows written before it are plain JSON, read as such. */
const SEALED_LATER = new Set(['Session', 'DeviceCode']);

function hash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export function createOauthAdapterFactory(deps: { db: Db; secrets: SecretBox; now: () => Date }) {
  return (model: string): Adapter => {
    const sealed = SEALED_MODELS.has(model);
    const encode = (idHash: string, payload: AdapterPayload | object): string => {
      const json = JSON.stringify(payload);
      // The sealing context binds the ciphertext to its row: it cannot be moved to another id.
      return sealed ? deps.secrets.seal(json, `${model}:${idHash}`) : json;
    };
    const decode = (idHash: string, stored: string): AdapterPayload =>
      JSON.parse(
        sealed && !(SEALED_LATER.has(model) && stored.startsWith('{'))
          ? deps.secrets.open(stored, `${model}:${idHash}`)
          : stored,
      ) as AdapterPayload;
    /** The payload without the credential: an unsealed row never holds its own id. */
    const withoutId = (id: string, payload: AdapterPayload): AdapterPayload => {
      if (sealed || payload.jti !== id) return payload;
      const rest = { ...payload };
      delete rest.jti;
      return rest;
    };

    async function findBy(
      column: 'id_hash' | 'uid_hash' | 'user_code',
      value: string,
    ): Promise<AdapterPayload | undefined> {
      const row = await deps.db
        .selectFrom('oauth_records')
        .select(['id_hash', 'payload', 'expires_at', 'consumed_at'])
        .where('model', '=', model)
        .where(column, '=', value)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      if (row.expires_at !== null && row.expires_at <= deps.now().toISOString()) return undefined;
      const payload = decode(row.id_hash, row.payload);
      return row.consumed_at === null
        ? payload
        : { ...payload, consumed: Math.floor(Date.parse(row.consumed_at) / 1000) };
    }

    return {
      async upsert(id, payload, expiresIn) {
        const idHash = hash(id);
        const row = {
          payload: encode(idHash, withoutId(id, payload)),
          grant_id: payload.grantId ?? null,
          uid_hash: payload.uid === undefined ? null : hash(payload.uid),
          user_code: payload.userCode ?? null,
          expires_at:
            expiresIn !== undefined && expiresIn > 0
              ? new Date(deps.now().getTime() + expiresIn * 1000).toISOString()
              : null,
        };
        await deps.db
          .insertInto('oauth_records')
          .values({ model, id_hash: idHash, consumed_at: null, ...row })
          .onConflict((oc) => oc.columns(['model', 'id_hash']).doUpdateSet(row))
          .execute();
      },
      async find(id) {
        const payload = await findBy('id_hash', hash(id));
        // Rows written before the id was left out still carry it; either way it is this id.
        return payload === undefined || sealed ? payload : { ...payload, jti: id };
      },
      findByUid: (uid) => findBy('uid_hash', hash(uid)),
      findByUserCode: (userCode) => findBy('user_code', userCode),
      async consume(id) {
        await deps.db
          .updateTable('oauth_records')
          .set({ consumed_at: deps.now().toISOString() })
          .where('model', '=', model)
          .where('id_hash', '=', hash(id))
          .execute();
      },
      async destroy(id) {
        await deps.db
          .deleteFrom('oauth_records')
          .where('model', '=', model)
          .where('id_hash', '=', hash(id))
          .execute();
      },
      async revokeByGrantId(grantId) {
        // The library calls this on each token model (codes, access and refresh tokens) in turn:
        // only this model's records go (an interaction naming the grant is not a token).
        await deps.db
          .deleteFrom('oauth_records')
          .where('model', '=', model)
          .where('grant_id', '=', grantId)
          .execute();
      },
    };
  };
}

/** Removes expired records (called now and then; expired ones are never answered anyway). */
export async function deleteExpiredOauthRecords(db: Db, now: Date): Promise<void> {
  await db.deleteFrom('oauth_records').where('expires_at', '<=', now.toISOString()).execute();
}
