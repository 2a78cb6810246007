import { type Static, Type } from '@sinclair/typebox'
import { Ext, ExtInput, Uuid } from '../http/shared-schemas.ts'

const DOMAIN_NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]*$'
const DomainName = Type.String({ minLength: 1, maxLength: 64, pattern: DOMAIN_NAME_PATTERN })

/** `{<channel type>: <max channels>}`; null = the installation default (`SWITCHBOARD_LICENSE`). */
const License = Type.Object(
  {},
  {
    additionalProperties: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    maxProperties: 256,
    propertyNames: { maxLength: 64 },
  },
)

const DomainOpts = Type.Object(
  {
    title: Type.String({ maxLength: 256 }),
    comment: Type.String({ maxLength: 4096 }),
    script_isolation: Type.Optional(
      Type.Union([Type.Literal('worker'), Type.Literal('process')], {
        description:
          "where the domain's scripts run (SPEC §13): isolates in the worker, or script-host processes of the domain's own; absent: SWITCHBOARD_SCRIPT_ISOLATION",
      }),
    ),
  },
  { additionalProperties: false },
)

export const Domain = Type.Object(
  {
    id: Uuid,
    name: DomainName,
    license: Type.Union([License, Type.Null()]),
    opts: DomainOpts,
    ext: Ext,
  },
  { additionalProperties: false, title: 'Domain' },
)
export type Domain = Static<typeof Domain>

export const DomainCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    name: DomainName,
    license: Type.Optional(Type.Union([License, Type.Null()])),
    opts: Type.Optional(Type.Partial(DomainOpts)),
    ext: Type.Optional(ExtInput),
  },
  { additionalProperties: false },
)

export const MASTER_DOMAIN = 'master'
export const DEFAULT_DOMAIN = 'default'
