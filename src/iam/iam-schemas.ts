import { type Static, Type } from '@sinclair/typebox'
import { Code, Ext, ExtInput, Timestamp, Uuid } from '../http/shared-schemas.ts'
import { PERMISSION_METHODS } from './permissions.ts'

const Login = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.@+-]+$' })
const RoleCodes = Type.Array(Code, { maxItems: 64 })
const UserOpts = Type.Object(
  { comment: Type.String({ maxLength: 4096 }), email: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
)

export const User = Type.Object(
  { id: Uuid, login: Login, name: Type.String({ maxLength: 256 }), roles: RoleCodes, opts: UserOpts, ext: Ext },
  { additionalProperties: false, title: 'User' },
)
export type User = Static<typeof User>

export const UserCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    login: Login,
    name: Type.Optional(Type.String({ maxLength: 256 })),
    roles: Type.Optional(RoleCodes),
    opts: Type.Optional(Type.Partial(UserOpts)),
    ext: Type.Optional(ExtInput),
  },
  { additionalProperties: false },
)

export const ApiKey = Type.Object(
  {
    id: Uuid,
    userid: Uuid,
    name: Type.String({ maxLength: 256, description: 'what the key is for (shown in lists and the audit log)' }),
    last_used_at: Type.Optional(
      Type.Union([Timestamp, Type.Null()], {
        description: 'when the key last authenticated a call, to about a minute; null: never',
      }),
    ),
    ext: Ext,
  },
  { additionalProperties: false, title: 'API key' },
)
export type ApiKey = Static<typeof ApiKey>

export const ApiKeyCreate = Type.Object(
  { id: Type.Optional(Uuid), userid: Uuid, name: Type.Optional(Type.String({ maxLength: 256 })), ext: Type.Optional(ExtInput) },
  { additionalProperties: false },
)

const PermissionSchema = Type.Object(
  {
    route: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'a REST path pattern (`/rest/v1/service/*`; * is one segment, or everything at the end) or `/ws#<capability>`',
    }),
    methods: Type.Array(Type.Union(PERMISSION_METHODS.map((method) => Type.Literal(method))), {
      minItems: 1,
      maxItems: PERMISSION_METHODS.length,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
)
const Permissions = Type.Array(PermissionSchema, { maxItems: 256 })

export const Role = Type.Object(
  { id: Uuid, code: Code, name: Type.String({ maxLength: 256 }), permissions: Permissions, ext: Ext },
  { additionalProperties: false, title: 'Role' },
)
export type Role = Static<typeof Role>

export const RoleCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    code: Code,
    name: Type.Optional(Type.String({ maxLength: 256 })),
    permissions: Type.Optional(Permissions),
    ext: Type.Optional(ExtInput),
  },
  { additionalProperties: false },
)
