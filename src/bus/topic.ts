import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * One kind of bus message (DESIGN: types stop at no edge): the TypeBox schema that gives its type
 * is checked on every message a bus delivers, right after it is decoded. A message of another
 * shape — a node of another version during a rolling upgrade — is counted and dropped, never
 * handed on to read as `undefined`.
 */
export interface Topic<T> {
  /** Names it in metrics and logs (`switchboard_bus_malformed_total{topic}`). */
  readonly name: string
  readonly check: (message: unknown) => message is T
}

/** A topic from its schema, compiled once. */
export function topic<S extends TSchema>(name: string, schema: S): Topic<Static<S>> {
  const compiled = TypeCompiler.Compile(schema)
  return { name, check: (message): message is Static<S> => compiled.Check(message) }
}

/** The type of a topic's messages. */
export type MessageOf<T> = T extends Topic<infer M> ? M : never
