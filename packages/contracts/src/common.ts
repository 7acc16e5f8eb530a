import { Type, type Static, type TSchema } from 'typebox';

/** The error body of the reference Developer API: `{"errors":[{"code":"bad_request","title":"…"}]}`. */
export const ErrorBody = Type.Object({
  errors: Type.Array(
    Type.Object({
      code: Type.Union([Type.String(), Type.Integer()]),
      title: Type.String(),
    }),
  ),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The reference API's other error shape, used by the invitation endpoint. */
export const MessageErrorBody = Type.Object({ message: Type.String() });

export const PAGE_SIZE_MAX = 100;

/**
 * The largest value of the integer columns that hold Roster's IDs (`serial`/`integer`, 32 bits, on
 * both dialects: see storage/migrations). An ID beyond it cannot exist, and PostgreSQL refuses to
 * compare with it.
 */
export const ID_MAX = 2_147_483_647;

/**
 * An integer request field, bounded on both sides: every integer a request carries has bounds
 * (the server refuses to register a route whose schema has an unbounded number, see
 * http/validation.ts), so that a huge value is a 400 rather than a database error.
 */
export const BoundedInteger = (minimum: number, maximum: number, options: IntegerOptions = {}) =>
  Type.Integer({ ...options, minimum, maximum });
type IntegerOptions = Omit<NonNullable<Parameters<typeof Type.Integer>[0]>, 'minimum' | 'maximum'>;

/** A reference to a row by its integer ID in a request body or query: 1 … ID_MAX. */
export const Id = (options: IntegerOptions = {}) => BoundedInteger(1, ID_MAX, options);

/**
 * Pagination as the reference API takes it: `page[number]` and `page[size]` are literal query keys
 * (URL-encoded brackets decode to the same keys).
 */
export const PageQuery = {
  'page[number]': Type.Optional(BoundedInteger(1, 1_000_000, { default: 1 })),
  'page[size]': Type.Optional(BoundedInteger(1, PAGE_SIZE_MAX, { default: 100 })),
};

export const PageMeta = Type.Object({ number: Type.Integer(), size: Type.Integer() });

/** A paginated list: `{"data":[…],"total":N,"page":{"number","size"}}`. */
export function PagedList<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), total: Type.Integer(), page: PageMeta });
}

export function DataOf<T extends TSchema>(item: T) {
  return Type.Object({ data: item });
}

/** A query that takes only the page. */
export const PageOnlyQuery = Type.Object(PageQuery);

/** The answer of a 204. */
export const NoContent = Type.Null({ description: 'No content' });

export const DataNull = Type.Object({ data: Type.Null() });
export const ResultOk = Type.Object({ result: Type.Literal('ok') });
export const DataResultOk = Type.Object({ data: ResultOk });

export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** Integer IDs arrive in paths as strings; digits only keeps a bad ID a 404/400, never a 500. */
export const IntegerIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
/** Prefixed string IDs such as `am-WxEKCibh-dTXBtz`. */
export const StringIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const EnvironmentType = Type.String({ minLength: 1, maxLength: 64 });
export const EnvironmentRef = Type.Object({ id: Type.Integer(), type: Type.String() });

/** JSON privilege configuration of environment and project roles: `{"recipe":{"privileges":"all"}}`. */
export const RoleConfig = Type.Record(
  Type.String({ maxLength: 100 }),
  Type.Object(
    {
      privileges: Type.Union([
        Type.Literal('all'),
        Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
      ]),
    },
    { additionalProperties: true },
  ),
  { maxProperties: 200 },
);
export type RoleConfig = Static<typeof RoleConfig>;

/** Legacy privilege map: `{"Recipes":["read","run"]}`. */
export const LegacyPrivileges = Type.Record(
  Type.String({ minLength: 1, maxLength: 100 }),
  Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
  { maxProperties: 200 },
);
export type LegacyPrivileges = Static<typeof LegacyPrivileges>;
