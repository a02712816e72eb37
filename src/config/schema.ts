import { parseDurationMs } from './duration.js'
import { describe, quoteShort, type TableReader } from './fields.js'
import { parseReference, type Reference } from './references.js'

/**
 * Typed combinators, the one way config tables are read: a source declares its
 * table once, and its Options type is inferred from that declaration
 * (`Infer<typeof schema>`).
 *
 * Messages name the file, the dotted key and what was expected; every problem of
 * a profile is reported at once, and a secret-looking value is never echoed. A
 * field whose read recorded a problem is INVALID, and a table with an INVALID
 * field (or a failed check) is INVALID as a whole. No made-up value ever stands
 * in for a bad one, so an Options object exists only for a valid table.
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

/** A field read by hand from the reader (`raw`, `has`, `problem`): INVALID when it recorded a problem. For reads no combinator covers. */
export function fromReader<T>(read: (reader: TableReader) => T): Field<T> {
  return (reader) => {
    const before = reader.problems.length
    const value = read(reader)
    return reader.problems.length > before ? INVALID : value
  }
}

/** Records a problem at `key` and gives INVALID. */
function invalid(reader: TableReader, key: string, message: string): Invalid {
  reader.problem(key, message)
  return INVALID
}

export function string(key: string, options: { required: true }): Field<string>
export function string(key: string, options?: { required?: false; fallback?: undefined }): Field<string | undefined>
export function string(key: string, options: { fallback: string }): Field<string>
export function string(key: string, options: { required?: boolean; fallback?: string } = {}): Field<string | undefined> {
  return (reader) => {
    const value = reader.raw(key)
    if (value === undefined) return options.required ? invalid(reader, key, 'is required') : options.fallback
    if (typeof value !== 'string' || value === '') return invalid(reader, key, `expected a non-empty string, got ${describe(value)}`)
    return value
  }
}

export function oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): Field<T> {
  return (reader) => {
    const value = reader.raw(key)
    if (value === undefined) return fallback
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
    // Echoing a short value is helpful; a long one may be a key pasted into the wrong field.
    const got = typeof value === 'string' ? quoteShort(value) : describe(value)
    return invalid(reader, key, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${got}`)
  }
}

export function boolean(key: string, fallback: boolean): Field<boolean> {
  return (reader) => {
    const value = reader.raw(key)
    if (value === undefined) return fallback
    return typeof value === 'boolean' ? value : invalid(reader, key, `expected true or false, got ${describe(value)}`)
  }
}

interface DurationBounds { minMs?: number; maxMs?: number }
export function durationMs(key: string, options: DurationBounds & { fallbackMs: number }): Field<number>
export function durationMs(key: string, options?: DurationBounds): Field<number | undefined>
export function durationMs(key: string, options: DurationBounds & { fallbackMs?: number } = {}): Field<number | undefined> {
  return (reader) => {
    const value = reader.raw(key)
    if (value === undefined) return options.fallbackMs
    if (typeof value !== 'string') return invalid(reader, key, `expected a duration string like "90s", "5m" or "1h", got ${describe(value)}`)
    const ms = parseDurationMs(value)
    if (ms === undefined) return invalid(reader, key, `${quoteShort(value)} is not a duration; write it like "90s", "5m", "1h" or "1h30m"`)
    if (options.minMs !== undefined && ms < options.minMs) return invalid(reader, key, `${quoteShort(value)} is too short (at least ${options.minMs} ms)`)
    if (options.maxMs !== undefined && ms > options.maxMs) return invalid(reader, key, `${quoteShort(value)} is too long (at most ${options.maxMs} ms)`)
    return ms
  }
}

/** A secret given as a reference; a literal is refused so secrets never sit in the file. */
export function reference(key: string, options: { required: true }): Field<Reference>
export function reference(key: string, options?: { required?: false }): Field<Reference | undefined>
export function reference(key: string, options: { required?: boolean } = {}): Field<Reference | undefined> {
  return (reader) => {
    const value = reader.raw(key)
    if (value === undefined) {
      return options.required ? invalid(reader, key, 'is required (a reference such as "env:NAME", "file:PATH" or "keychain:NAME")') : undefined
    }
    if (typeof value !== 'string') return invalid(reader, key, `expected a reference string such as "env:NAME", got ${describe(value)}`)
    return parseReference(value) ?? invalid(reader, key, 'expected a reference "env:NAME", "file:PATH" or "keychain:NAME"; secrets are never written in the config file')
  }
}

export function stringArray(key: string, options: { required?: boolean; nonEmpty?: boolean } = {}): Field<string[] | undefined> {
  return (reader) => {
    const value = reader.raw(key)
    if (value === undefined) return options.required ? invalid(reader, key, 'is required') : undefined
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return invalid(reader, key, `expected an array of strings, got ${describe(value)}`)
    if (options.nonEmpty && value.length === 0) return invalid(reader, key, 'must not be empty')
    return value as string[]
  }
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
