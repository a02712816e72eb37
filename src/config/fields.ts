import { CcredError } from '../errors.js'
import { parseDurationMs } from './duration.js'
import { parseReference, type Reference } from './references.js'
import { hasUnsafeChars } from '../text/sanitize.js'

/**
 * Reads one TOML table with precise messages. Every problem is collected so one
 * error lists them all ("profiles.x.command: expected ...; profiles.x.lifetime: ...").
 */
export class TableReader {
  readonly #seen = new Set<string>()

  constructor(
    readonly table: Record<string, unknown>,
    /** Dotted path of this table in the file, e.g. "profiles.demo". */
    readonly where: string,
    /** Shared with the readers of nested tables, so one error lists every problem. */
    readonly problems: string[] = [],
  ) {}

  /**
   * A nested table (`[profiles.x.jwt]`, or an inline `auth = { … }`), read by a
   * child that reports into the same problem list. Missing and not required: an
   * empty table, so callers read defaults the same way.
   */
  nested(key: string, options: { required?: boolean } = {}): TableReader {
    const value = this.#take(key)
    if (value !== undefined && !isTable(value)) this.problem(key, `expected a table, got ${describe(value)}`)
    else if (value === undefined && options.required) this.problem(key, `is required (a [${this.path(key)}] table)`)
    return new TableReader(isTable(value) ? value : {}, this.path(key), this.problems)
  }

  path(key: string): string {
    return `${this.where}.${key}`
  }

  problem(key: string, message: string): void {
    this.problems.push(`${this.path(key)}: ${message}`)
  }

  has(key: string): boolean {
    return this.table[key] !== undefined
  }

  #take(key: string): unknown {
    this.#seen.add(key)
    return this.table[key]
  }

  /** Marks keys as known without reading them (read elsewhere). */
  allow(...keys: string[]): void {
    for (const key of keys) this.#seen.add(key)
  }

  string(key: string, options: { required: true }): string
  string(key: string, options?: { required?: false }): string | undefined
  string(key: string, options: { required?: boolean } = {}): string | undefined {
    const value = this.#take(key)
    if (value === undefined) {
      if (options.required) this.problem(key, 'is required')
      return undefined
    }
    if (typeof value !== 'string' || value === '') {
      this.problem(key, `expected a non-empty string, got ${describe(value)}`)
      return undefined
    }
    return value
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.#take(key)
    if (value === undefined) return fallback
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      // Echoing a short value is helpful; a long one may be a key pasted into the wrong field.
      const got = typeof value === 'string' ? quoteShort(value) : describe(value)
      this.problem(key, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${got}`)
      return fallback
    }
    return value as T
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.#take(key)
    if (value === undefined) return fallback
    if (typeof value !== 'boolean') {
      this.problem(key, `expected true or false, got ${describe(value)}`)
      return fallback
    }
    return value
  }

  durationMs(key: string, options: { fallbackMs?: number; minMs?: number; maxMs?: number } = {}): number | undefined {
    const value = this.#take(key)
    if (value === undefined) return options.fallbackMs
    if (typeof value !== 'string') {
      this.problem(key, `expected a duration string like "90s", "5m" or "1h", got ${describe(value)}`)
      return options.fallbackMs
    }
    const ms = parseDurationMs(value)
    if (ms === undefined) {
      this.problem(key, `${quoteShort(value)} is not a duration; write it like "90s", "5m", "1h" or "1h30m"`)
      return options.fallbackMs
    }
    if (options.minMs !== undefined && ms < options.minMs) {
      this.problem(key, `${quoteShort(value)} is too short (at least ${options.minMs} ms)`)
      return options.fallbackMs
    }
    if (options.maxMs !== undefined && ms > options.maxMs) {
      this.problem(key, `${quoteShort(value)} is too long (at most ${options.maxMs} ms)`)
      return options.fallbackMs
    }
    return ms
  }

  /** A secret given as a reference; a literal is refused so secrets never sit in the file. */
  reference(key: string, options: { required: true }): Reference | undefined
  reference(key: string, options?: { required?: false }): Reference | undefined
  reference(key: string, options: { required?: boolean } = {}): Reference | undefined {
    const value = this.#take(key)
    if (value === undefined) {
      if (options.required) this.problem(key, 'is required (a reference such as "env:NAME", "file:PATH" or "keychain:NAME")')
      return undefined
    }
    if (typeof value !== 'string') {
      this.problem(key, `expected a reference string such as "env:NAME", got ${describe(value)}`)
      return undefined
    }
    const ref = parseReference(value)
    if (ref === undefined) {
      this.problem(key, 'expected a reference "env:NAME", "file:PATH" or "keychain:NAME"; secrets are never written in the config file')
      return undefined
    }
    return ref
  }

  stringArray(key: string, options: { required?: boolean; nonEmpty?: boolean } = {}): string[] | undefined {
    const value = this.#take(key)
    if (value === undefined) {
      if (options.required) this.problem(key, 'is required')
      return undefined
    }
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      this.problem(key, `expected an array of strings, got ${describe(value)}`)
      return undefined
    }
    if (options.nonEmpty && value.length === 0) {
      this.problem(key, 'must not be empty')
      return undefined
    }
    return value as string[]
  }

  /** Raw access for values whose type is checked by the caller. */
  raw(key: string): unknown {
    return this.#take(key)
  }

  /** Reports unknown keys (typos) with the list of known ones. */
  rejectUnknownKeys(): void {
    const unknown = Object.keys(this.table).filter((key) => !this.#seen.has(key))
    if (unknown.length === 0) return
    const known = [...this.#seen].sort().join(', ')
    for (const key of unknown) this.problem(key, `unknown key (known keys here: ${known})`)
  }

  /** Throws one ERR_CONFIG listing every problem found so far. */
  throwIfProblems(file: string): void {
    if (this.problems.length === 0) return
    throw new CcredError('ERR_CONFIG', `${file}: ${this.problems.join('; ')}`, { hint: `fix ${file}, then check it with: ccred profiles` })
  }
}

/**
 * A value quoted back in a message only when it is short and printable: a key
 * pasted into the wrong field (a duration, an enumeration) must not be echoed
 * to the terminal, the status output or a log.
 */
export function quoteShort(value: string): string {
  return value.length <= 32 && !hasUnsafeChars(value) ? `"${value}"` : `a string of ${value.length} characters`
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Date) return 'a date'
  switch (typeof value) {
    case 'string': return value === '' ? 'an empty string' : 'a string'
    case 'number': return `the number ${value}`
    case 'boolean': return String(value)
    case 'object': return 'a table'
    default: return typeof value
  }
}

export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}
