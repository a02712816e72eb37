import { CcredError } from '../errors.js'
import { hasUnsafeChars } from '../text/sanitize.js'

/**
 * Where the typed fields of schema.ts read one TOML table: the values, the keys
 * read so far (the others are typos), and the problems. Every problem is
 * collected so one error lists them all ("profiles.x.command: expected ...;
 * profiles.x.lifetime: ..."). The reading itself, typed and worded, is the
 * fields' (`string`, `oneOf`, `durationMs`, `table`, …): one API for every table.
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
    const value = this.raw(key)
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

  /** Marks keys as known without reading them (read elsewhere). */
  allow(...keys: string[]): void {
    for (const key of keys) this.#seen.add(key)
  }

  /** The value at `key`, marked as read; its type is checked by the field that reads it (schema.ts). */
  raw(key: string): unknown {
    this.#seen.add(key)
    return this.table[key]
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
