import { type Static, Type } from '@sinclair/typebox'
import { COUNT_PATTERN, Timestamp } from '../http/shared-schemas.ts'

/** A file as listings and uploads show it (SPEC §9). */
export const FileEntry = Type.Object(
  {
    path: Type.String({ description: 'normalised, relative to the domain’s file space' }),
    size: Type.Integer({ minimum: 0, description: 'bytes' }),
    content_type: Type.String(),
    mtime: Timestamp,
  },
  { additionalProperties: false, title: 'File' },
)
export type FileEntry = Static<typeof FileEntry>

export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1000

export const FileListQuery = Type.Object(
  {
    prefix: Type.Optional(Type.String({ maxLength: 1024, description: 'paths that start with this; empty: all' })),
    offset: Type.Optional(Type.String({ pattern: COUNT_PATTERN, description: 'default 0' })),
    limit: Type.Optional(
      Type.String({ pattern: COUNT_PATTERN, description: `default ${DEFAULT_LIST_LIMIT}, at most ${MAX_LIST_LIMIT}` }),
    ),
  },
  { additionalProperties: false },
)
export type FileListQuery = Static<typeof FileListQuery>
