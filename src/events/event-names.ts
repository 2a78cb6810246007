import { Type } from '@sinclair/typebox'
import { type MessageOf, topic } from '../bus/topic.ts'

/**
 * Event classes and names (SPEC §8), and the bus subjects they travel on.
 *
 * An event of domain D travels on `ev.D.<class>.<name>`; a `modelevents` event adds its
 * collection (`ev.D.modelevents.data_changed.<collection>`), so a subscription filtered to one
 * collection listens to that collection only — in cluster mode a queue group then never hands an
 * event to a node whose connections do not want it (docs/events.md).
 */

export const EVENT_CLASSES = ['modelevents', 'projectevents', 'channelevents'] as const
export type EventClass = (typeof EVENT_CLASSES)[number]

/** The names of the classes that have a fixed set; `projectevents` names are the scripts' own. */
const FIXED_NAMES: Readonly<Record<Exclude<EventClass, 'projectevents'>, readonly string[]>> = {
  modelevents: ['data_changed'],
  channelevents: ['connection_opened', 'connection_closed'],
}

/** A project event's name: one subject token. */
export const PROJECT_EVENT_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** What one entry of a subscription's `events` asks for: a class, and a name or all of them. */
export interface EventPattern {
  readonly class: EventClass
  /** null: every name of the class (`"<class>"` or `"<class>.*"`). */
  readonly name: string | null
}

/** An event as it travels on the bus and reaches clients (without its subscription ids). */
export const EVENT = topic(
  'ev',
  Type.Object({
    id: Type.String(),
    class: Type.Union(EVENT_CLASSES.map((name) => Type.Literal(name))),
    name: Type.String(),
    data: Type.Unknown(),
    ts: Type.String(),
  }),
)
export type BusEvent = MessageOf<typeof EVENT>

/** `"<class>.<name>"`, `"<class>.*"` or `"<class>"` as a pattern, or why it is not one. */
export function parsePattern(text: string): EventPattern | string {
  const dot = text.indexOf('.')
  const cls = dot === -1 ? text : text.slice(0, dot)
  const name = dot === -1 ? '*' : text.slice(dot + 1)
  if (!(EVENT_CLASSES as readonly string[]).includes(cls)) {
    return `unknown event class '${cls.slice(0, 64)}' (one of ${EVENT_CLASSES.join(', ')})`
  }
  const eventClass = cls as EventClass
  if (name === '*') return { class: eventClass, name: null }
  if (eventClass === 'projectevents') {
    return PROJECT_EVENT_NAME.test(name)
      ? { class: eventClass, name }
      : `'${text.slice(0, 80)}': a project event name is 1-64 letters, digits, '_' or '-'`
  }
  return FIXED_NAMES[eventClass].includes(name)
    ? { class: eventClass, name }
    : `unknown event '${text.slice(0, 80)}' (${eventClass} has ${FIXED_NAMES[eventClass].join(', ')})`
}

export function patternMatches(pattern: EventPattern, event: { class: string; name: string }): boolean {
  return pattern.class === event.class && (pattern.name === null || pattern.name === event.name)
}

/** The subject an event is published on. */
export function eventSubject(domainId: string, cls: EventClass, name: string, collection?: string): string {
  return collection === undefined ? `ev.${domainId}.${cls}.${name}` : `ev.${domainId}.${cls}.${name}.${collection}`
}

/** The subject a pattern listens to; `collection` narrows a `modelevents` pattern to one collection. */
export function patternSubject(domainId: string, pattern: EventPattern, collection: string | null): string {
  if (pattern.class === 'modelevents' && collection !== null) {
    return `ev.${domainId}.modelevents.${pattern.name ?? '*'}.${collection}`
  }
  if (pattern.name === null) return `ev.${domainId}.${pattern.class}.>`
  if (pattern.class === 'modelevents') return `ev.${domainId}.modelevents.${pattern.name}.*`
  return `ev.${domainId}.${pattern.class}.${pattern.name}`
}

/** Every event of a domain. */
export function domainSubject(domainId: string): string {
  return `ev.${domainId}.>`
}
