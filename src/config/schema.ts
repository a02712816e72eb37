import type { Reference } from './references.js'
import type { TableReader } from './fields.js'

/**
 * Typed combinators over TableReader: a source declares its table once, and its
 * Options type is inferred from that declaration (`Infer<typeof schema>`).
 *
 * The reader keeps doing the reading and the wording, so messages stay as they
 * were: file, dotted key, what was expected, every problem of a profile at once,
 * never a secret-looking value. What the combinators add is the outcome: a field
 * whose read recorded a problem is INVALID, and a table with an INVALID field (or
 * a failed check) is INVALID as a whole. No made-up value ever stands in for a
 * bad one, so an Options object exists only for a valid table.
 */
export const INVALID: unique symbol = Symbol('invalid config value')
export type Invalid = typeof INVALID

/** Reads one value from a table; INVALID once the problem is recorded in the reader. */
export type Field<T> = (reader: TableReader) => T | Invalid

export type Infer<F> = F extends Field<infer T> ? T : never

type Shape = Record<string, Field<any>>
type Simplify<T> = { [K in keyof T]: T[K] } & {}
/** A field that may be undefined becomes an optional key. */
export type TableValue<S extends Shape> = Simplify<
  { [K in keyof S as undefined extends Infer<S[K]> ? never : K]: Infer<S[K]> } &
  { [K in keyof S as undefined extends Infer<S[K]> ? K : never]?: Infer<S[K]> }
>
/** What a table's checks see: every field, each possibly INVALID (checks still run, so every problem is reported). */
export type Draft<S extends Shape> = { [K in keyof S]: Infer<S[K]> | Invalid }

/** Thrown by `parseWith` after the problems are recorded in the reader; the caller reports them. */
export class ProblemsRecorded extends Error {
  constructor(readonly where: string) {
    super(`${where}: invalid (the problems are in the reader)`)
    this.name = 'ProblemsRecorded'
  }
}

/**
 * Reads a whole table: the value, or ProblemsRecorded when it is invalid (the
 * problems wait in the reader, so the caller can add its own before reporting).
 */
export function parseWith<T>(field: Field<T>, reader: TableReader): T {
  const before = reader.problems.length
  const value = field(reader)
  if (value !== INVALID) return value
  // A field that fails must say why, or the profile would be refused without a message.
  if (reader.problems.length === before) throw new TypeError(`${reader.where}: a config field was invalid without recording a problem`)
  throw new ProblemsRecorded(reader.where)
}

export const isValid = <T>(value: T | Invalid): value is T => value !== INVALID

/** A field read by TableReader calls, INVALID when they recorded a problem (for reads no combinator covers). */
export function fromReader<T>(read: (reader: TableReader) => T): Field<T> {
  return (reader) => {
    const before = reader.problems.length
    const value = read(reader)
    return reader.problems.length > before ? INVALID : value
  }
}

export function string(key: string, options: { required: true }): Field<string>
export function string(key: string, options?: { required?: false; fallback?: undefined }): Field<string | undefined>
export function string(key: string, options: { fallback: string }): Field<string>
export function string(key: string, options: { required?: boolean; fallback?: string } = {}): Field<string | undefined> {
  return fromReader((reader) => (options.required ? reader.string(key, { required: true }) : reader.string(key)) ?? options.fallback)
}

export function oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): Field<T> {
  return fromReader((reader) => reader.oneOf(key, allowed, fallback))
}

export function boolean(key: string, fallback: boolean): Field<boolean> {
  return fromReader((reader) => reader.boolean(key, fallback))
}

interface DurationBounds { minMs?: number; maxMs?: number }
export function durationMs(key: string, options: DurationBounds & { fallbackMs: number }): Field<number>
export function durationMs(key: string, options?: DurationBounds): Field<number | undefined>
export function durationMs(key: string, options: DurationBounds & { fallbackMs?: number } = {}): Field<number | undefined> {
  return fromReader((reader) => reader.durationMs(key, options))
}

export function reference(key: string, options: { required: true }): Field<Reference>
export function reference(key: string, options?: { required?: false }): Field<Reference | undefined>
export function reference(key: string, options: { required?: boolean } = {}): Field<Reference | undefined> {
  return fromReader((reader) => (options.required ? reader.reference(key, { required: true }) : reader.reference(key)))
}

export function stringArray(key: string, options: { required?: boolean; nonEmpty?: boolean } = {}): Field<string[] | undefined> {
  return fromReader((reader) => reader.stringArray(key, options))
}

/**
 * A value whose type the caller checks: `read` gets the raw value (undefined when
 * absent) and a `problem` that records a message at this key and returns INVALID.
 */
export function raw<T>(key: string, read: (value: unknown, problem: (message: string) => Invalid) => T | Invalid): Field<T> {
  return (reader) =>
    read(reader.raw(key), (message) => {
      reader.problem(key, message)
      return INVALID
    })
}

/** A further rule on a valid value; `problem` records a message at the field's key (or another one). */
export function refine<T>(field: Field<T>, key: string, check: (value: T) => string | undefined): Field<T> {
  return (reader) => {
    const value = field(reader)
    if (value === INVALID) return INVALID
    const problem = check(value)
    if (problem === undefined) return value
    reader.problem(key, problem)
    return INVALID
  }
}

/** `refine` for an optional value: the check applies only when the value is set. */
export function whenSet<T>(field: Field<T | undefined>, key: string, check: (value: T) => string | undefined): Field<T | undefined> {
  return refine(field, key, (value) => (value === undefined ? undefined : check(value)))
}

/** A valid value turned into another (derived defaults, units, shapes); an invalid one stays invalid. */
export function map<T, U>(field: Field<T>, transform: (value: T, reader: TableReader) => U): Field<U> {
  return (reader) => {
    const value = field(reader)
    return value === INVALID ? INVALID : transform(value, reader)
  }
}

/**
 * The fields of the reader's own table, read in the order given (the problems keep
 * that order). `checks` see every field, INVALID ones included, and record
 * cross-field problems with `reader.problem`. `closed`: other keys are typos.
 */
export function table<S extends Shape>(
  shape: S,
  options: { closed?: boolean; checks?: (draft: Draft<S>, reader: TableReader) => void } = {},
): Field<TableValue<S>> {
  return (reader) => {
    const before = reader.problems.length
    const draft = {} as Record<string, unknown>
    for (const [name, field] of Object.entries(shape)) draft[name] = field(reader)
    options.checks?.(draft as Draft<S>, reader)
    if (options.closed) reader.rejectUnknownKeys()
    if (reader.problems.length > before || Object.values(draft).includes(INVALID)) return INVALID
    return draft as TableValue<S>
  }
}

/**
 * A nested table (`[profiles.x.jwt]` or an inline `auth = { … }`) read by `field`
 * into the same problem list. Absent: `field` reads an empty table, so its
 * defaults and "is required" messages apply, unless `whenPresent`, which gives
 * undefined for an absent table.
 */
export function nested<T>(key: string, field: Field<T>, options: { required?: boolean }): Field<T>
export function nested<T>(key: string, field: Field<T>, options: { whenPresent: true }): Field<T | undefined>
export function nested<T>(key: string, field: Field<T>, options: { required?: boolean; whenPresent?: boolean }): Field<T | undefined> {
  return (reader) => {
    if (options.whenPresent && !reader.has(key)) {
      reader.allow(key)
      return undefined
    }
    const before = reader.problems.length
    const value = field(reader.nested(key, { required: options.required ?? false }))
    return reader.problems.length > before ? INVALID : value
  }
}

/** Drops undefined entries, for option objects that state only what is set. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T
}
