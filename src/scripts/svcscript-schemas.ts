import { type Static, Type } from '@sinclair/typebox'
import { Code, Ext, ExtInput, Uuid } from '../http/shared-schemas.ts'

/** Largest script source, in characters. */
const MAX_SOURCE_LENGTH = 512 * 1024

const Lang = Type.Union([Type.Literal('js'), Type.Literal('ts')])
const LogLevel = Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')])

const ScriptOpts = Type.Object(
  { title: Type.String({ maxLength: 256 }), comment: Type.String({ maxLength: 4096 }), loglevel: LogLevel },
  { additionalProperties: false },
)

/**
 * Set by the server when a version of the script held an isolate V8 could not stop (SPEC §13):
 * that version then runs only in script-host processes. A saved change of `source` or `lang`, or
 * `POST …/svcscripts/<id>/release`, ends it.
 */
export const Quarantine = Type.Object(
  {
    since: Type.String({ format: 'date-time' }),
    reason: Type.String(),
    version: Type.String({ description: 'the script version (a hash of its id, lang and source) that caused it' }),
  },
  { additionalProperties: false },
)
export type Quarantine = Static<typeof Quarantine>

export const Svcscript = Type.Object(
  {
    id: Uuid,
    code: Code,
    name: Type.String({ maxLength: 256 }),
    lang: Lang,
    source: Type.String({ maxLength: MAX_SOURCE_LENGTH, description: 'the body of an async function' }),
    opts: ScriptOpts,
    version: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'the current version: counts the saves that changed source or lang (GET …/versions lists them)',
      }),
    ),
    quarantined: Type.Optional(Quarantine),
    ext: Ext,
    warnings: Type.Optional(
      Type.Array(
        Type.Object({ line: Type.Integer(), column: Type.Integer(), message: Type.String() }, { additionalProperties: false }),
        {
          description:
            'only in the answer to a save of a TypeScript script: where it does not type-check against the script API (not stored)',
        },
      ),
    ),
  },
  { additionalProperties: false, title: 'Service script' },
)
export type Svcscript = Static<typeof Svcscript>

export const SvcscriptCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    code: Code,
    name: Type.Optional(Type.String({ maxLength: 256 })),
    lang: Type.Optional(Lang),
    source: Type.Optional(Type.String({ maxLength: MAX_SOURCE_LENGTH })),
    opts: Type.Optional(Type.Partial(ScriptOpts)),
    ext: Type.Optional(ExtInput),
  },
  { additionalProperties: false },
)
