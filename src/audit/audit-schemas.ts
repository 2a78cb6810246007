import { type Static, Type } from '@sinclair/typebox'
import { Timestamp, Uuid } from '../http/shared-schemas.ts'

/** An entry of the audit log (SPEC §2): who changed what, when. */
export const AuditEntry = Type.Object(
  {
    id: Uuid,
    ts: Timestamp,
    actor: Type.Object(
      {
        kind: Type.Union([Type.Literal('root'), Type.Literal('user'), Type.Literal('channel'), Type.Literal('system')]),
        id: Type.String({ description: '"root", the user id, or the channel id' }),
        key_id: Type.Optional(Type.String({ description: 'the API key a user acted with' })),
        via: Type.Optional(
          Type.Object(
            { kind: Type.Literal('channel'), id: Type.String({ description: 'the channel id' }) },
            {
              additionalProperties: false,
              description: "the channel through which the user acted: its token, with the user's rights (opts.userid)",
            },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    collection: Type.String({ description: 'the collection name, or "files"' }),
    entity_id: Type.String({ description: 'the entity id (for files: the path)' }),
    operation: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
    fields: Type.Array(Type.String(), { description: 'dotted paths of the fields set or changed' }),
    changes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            field: Type.String(),
            before: Type.Optional(Type.Unknown({ description: 'absent: not set before' })),
            after: Type.Optional(Type.Unknown({ description: 'absent: removed' })),
            withheld: Type.Optional(
              Type.Union([Type.Literal('secret'), Type.Literal('long')], {
                description:
                  'the values are not kept: a secret (tokens, keys, signing secrets), or longer than 256 characters as JSON',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        { description: 'the fields with their values before and after (entries written before 0.2 have none)' },
      ),
    ),
  },
  { additionalProperties: false, title: 'Audit entry' },
)
export type AuditEntry = Static<typeof AuditEntry>
