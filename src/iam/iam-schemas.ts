import { type Static, Type } from '@sinclair/typebox'
import { Ext, ExtInput, Uuid } from '../http/shared-schemas.ts'

const Login = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.@+-]+$' })
const RoleCodes = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })
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
  { id: Uuid, userid: Uuid, name: Type.String({ maxLength: 256 }), ext: Ext },
  { additionalProperties: false, title: 'API key' },
)
export type ApiKey = Static<typeof ApiKey>

export const ApiKeyCreate = Type.Object(
  { id: Type.Optional(Uuid), userid: Uuid, name: Type.Optional(Type.String({ maxLength: 256 })), ext: Type.Optional(ExtInput) },
  { additionalProperties: false },
)
