import { isDeepStrictEqual } from 'node:util'
import { parse as parseToml } from 'smol-toml'
import { CcredError } from '../errors.js'

/**
 * Edits a TOML file the way a person would: the keys ccred sets are written in place
 * (or added to the end of their table, or a new table at the end of the file), and
 * every other byte — comments, order, blank lines, other tables — stays as it was.
 * A serializer would rewrite the whole file; Codex users keep hand-written config.toml
 * files with comments. After editing, the result is parsed again and must equal the
 * original document with exactly these edits applied, or nothing is written.
 */

export type TomlValue = string | number | boolean | TomlValue[] | { [key: string]: TomlValue }

export interface TomlEdit {
  /** The table's key path, e.g. ["model_providers", "gw"]; [] is the root table. */
  table: string[]
  key: string
  /** The new value; undefined removes the key. */
  value: TomlValue | undefined
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/

export function tomlKey(key: string): string {
  return BARE_KEY.test(key) ? key : JSON.stringify(key)
}

/** A value as TOML source on one line (JSON's string escapes are valid TOML basic-string escapes). */
export function tomlValue(value: TomlValue): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`only integers are written to TOML here, not ${value}`)
    return String(value)
  }
  if (typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`
  return `{ ${Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`).join(', ')} }`
}

interface Statement {
  kind: 'header' | 'keyval' | 'other'
  /** First and last line (inclusive, 0-based). */
  start: number
  end: number
  /** A header's table path, or a key/value line's dotted key. */
  path: string[]
}

/** Splits `a."b.c" . d` into its keys, unquoted. */
function keyPath(source: string): string[] | undefined {
  const parts: string[] = []
  let rest = source.trim()
  while (rest !== '') {
    let match = /^"((?:[^"\\]|\\.)*)"/.exec(rest)
    if (match !== null) parts.push(JSON.parse(`"${match[1]}"`) as string)
    else if ((match = /^'([^']*)'/.exec(rest)) !== null) parts.push(match[1]!)
    else if ((match = /^[A-Za-z0-9_-]+/.exec(rest)) !== null) parts.push(match[0])
    else return undefined
    rest = rest.slice(match[0].length).trim()
    if (rest === '') break
    if (!rest.startsWith('.')) return undefined
    rest = rest.slice(1).trim()
  }
  return parts
}

/**
 * Cuts a document into statements: table headers, key/value pairs (which may span lines in
 * arrays, inline tables and multi-line strings) and everything else (blank and comment lines).
 */
function statements(lines: string[]): Statement[] {
  const result: Statement[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) {
      result.push({ kind: 'other', start: i, end: i, path: [] })
      continue
    }
    const header = /^\s*\[(?!\[)(.*?)\]\s*(#.*)?$/.exec(line)
    if (header !== null) {
      result.push({ kind: 'header', start: i, end: i, path: keyPath(header[1]!) ?? [] })
      continue
    }
    if (trimmed.startsWith('[[')) {
      // An array of tables: ccred never edits inside one; it ends whatever table came before.
      result.push({ kind: 'header', start: i, end: i, path: ['[['] })
      continue
    }
    const equals = indexOfEquals(line)
    const path = equals < 0 ? undefined : keyPath(line.slice(0, equals))
    const end = valueEnd(lines, i, equals < 0 ? 0 : equals + 1)
    result.push({ kind: path === undefined ? 'other' : 'keyval', start: i, end, path: path ?? [] })
    i = end
  }
  return result
}

/** The `=` that ends a key (outside the key's own quotes). */
function indexOfEquals(line: string): number {
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') i++
      else if (char === quote) quote = undefined
    } else if (char === '"' || char === "'") quote = char
    else if (char === '=') return i
  }
  return -1
}

/** The line a value that starts at `lines[start][column]` ends on. */
function valueEnd(lines: string[], start: number, column: number): number {
  let depth = 0
  let multiline: '"""' | "'''" | undefined
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!
    for (let j = i === start ? column : 0; j < line.length; j++) {
      if (multiline !== undefined) {
        if (multiline === '"""' && line[j] === '\\') j++
        else if (line.startsWith(multiline, j)) { multiline = undefined; j += 2 }
        continue
      }
      const char = line[j]!
      if (char === '#') break
      if (line.startsWith('"""', j) || line.startsWith("'''", j)) { multiline = line.slice(j, j + 3) as '"""' | "'''"; j += 2; continue }
      if (char === '"' || char === "'") {
        for (j++; j < line.length && line[j] !== char; j++) if (char === '"' && line[j] === '\\') j++
        continue
      }
      if (char === '[' || char === '{') depth++
      else if (char === ']' || char === '}') depth--
    }
    if (depth <= 0 && multiline === undefined) return i
  }
  return lines.length - 1
}

function samePath(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i])
}

function cannotEdit(table: string[], why: string): CcredError {
  const name = table.length === 0 ? 'the top level' : `[${table.map(tomlKey).join('.')}]`
  return new CcredError('ERR_CONFIG', `cannot edit ${name} safely: ${why}`, { hint: 'edit the file by hand (ccred setup … --dry-run shows the change), or move that table into its own [header] section' })
}

/** What the document holds at a table path, if anything. */
function tableAt(doc: Record<string, unknown>, table: string[]): unknown {
  let at: unknown = doc
  for (const part of table) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined
    at = (at as Record<string, unknown>)[part]
  }
  return at
}

/**
 * Whether a table without its own header exists (if at all) only because headers of its
 * sub-tables name it: then a new header under it is valid TOML.
 */
function definedOnlyByHeaders(all: Statement[], doc: Record<string, unknown>, table: string[]): boolean {
  const existing = tableAt(doc, table)
  if (existing === undefined) return true
  if (typeof existing !== 'object' || existing === null || Array.isArray(existing)) return false
  return Object.keys(existing).every((key) => all.some((s) => s.kind === 'header' && samePath(s.path.slice(0, table.length + 1), [...table, key])))
}

function isTableValue(value: TomlValue | undefined): value is { [key: string]: TomlValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A table value for a key that the file defines under its own header ([a.b.auth] for
 * a.b's `auth`) is written key by key into that section, as the user laid it out,
 * instead of as an inline table beside it (which would define the table twice).
 */
function expandSubtables(lines: string[], before: Record<string, unknown>, edits: readonly TomlEdit[]): TomlEdit[] {
  const headers = statements(lines).filter((s) => s.kind === 'header')
  return edits.flatMap((edit): TomlEdit[] => {
    const path = [...edit.table, edit.key]
    if (!headers.some((h) => samePath(h.path, path))) return [edit]
    if (edit.value !== undefined && !isTableValue(edit.value)) throw cannotEdit(path, 'it is a table under its own header; ccred will not replace it with a single value')
    const existing = tableAt(before, path)
    const existingKeys = typeof existing === 'object' && existing !== null ? Object.keys(existing) : []
    const wanted = edit.value ?? {}
    return [
      ...Object.entries(wanted).map(([key, value]) => ({ table: path, key, value })),
      ...existingKeys.filter((key) => !Object.hasOwn(wanted, key)).map((key) => ({ table: path, key, value: undefined })),
    ]
  })
}

/**
 * Removes a table's header when a removal left it with nothing: no key of its own and no
 * sub-table (setup's undo leaves no empty `[model_providers.x]` behind), with one blank line
 * before it; comments in the section stay.
 */
function withoutEmptyTable(lines: string[], table: string[]): string[] {
  const all = statements(lines)
  const headerIndex = all.findIndex((s) => s.kind === 'header' && samePath(s.path, table))
  if (headerIndex < 0) return lines
  let end = all.findIndex((s, i) => i > headerIndex && s.kind === 'header')
  if (end < 0) end = all.length
  const section = all.slice(headerIndex + 1, end)
  if (section.some((s) => s.kind !== 'other' || lines[s.start]!.trim() !== '')) return lines
  const subtable = all.some((s) => s.kind === 'header' && s.path.length > table.length && samePath(s.path.slice(0, table.length), table))
  if (subtable) return lines
  const header = all[headerIndex]!
  const from = header.start > 0 && lines[header.start - 1]!.trim() === '' ? header.start - 1 : header.start
  const to = section.length > 0 ? section.at(-1)!.end : header.end
  return [...lines.slice(0, from), ...lines.slice(to + 1)]
}

/** Dates as their TOML text, so two parses of one document compare equal. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown
}

function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
}

/** The same edits on a fresh parse of the document: what the edited text must parse to. */
function applyToDocument(text: string, edits: readonly TomlEdit[]): Record<string, unknown> {
  const copy = plain(parseToml(text)) as Record<string, unknown>
  for (const edit of edits) {
    let at: Record<string, unknown> = copy
    // Own properties only, defined rather than assigned: a key may be "constructor" or "__proto__".
    for (const part of edit.table) {
      if (!Object.hasOwn(at, part)) define(at, part, {})
      at = at[part] as Record<string, unknown>
    }
    if (edit.value === undefined) {
      delete at[edit.key]
      // As the text does (withoutEmptyTable): a table a removal leaves empty goes, and so do the
      // tables above it that only held it (they have no header of their own to keep them).
      for (let depth = edit.table.length; depth > 0; depth--) {
        let parent: Record<string, unknown> = copy
        for (const part of edit.table.slice(0, depth - 1)) parent = parent[part] as Record<string, unknown>
        const child = parent[edit.table[depth - 1]!] as Record<string, unknown>
        if (Object.keys(child).length > 0) break
        delete parent[edit.table[depth - 1]!]
      }
    } else define(at, edit.key, plain(edit.value))
  }
  return copy
}

/**
 * Applies `edits` to a TOML document's text, keeping every other line as it is. Throws
 * ERR_CONFIG when the text is not TOML, or when a table ccred must edit is defined in a form
 * it does not rewrite (dotted keys, an inline table, an array of tables).
 */
export function editToml(text: string, edits: readonly TomlEdit[]): string {
  let before: Record<string, unknown>
  try {
    before = parseToml(text) as Record<string, unknown>
  } catch (error) {
    throw new CcredError('ERR_CONFIG', `the file is not valid TOML (${(error as Error).message.split('\n')[0]})`, { hint: 'fix it first; ccred edits only a file it can read', cause: error })
  }
  const newline = text.includes('\r\n') ? '\r\n' : '\n'
  let lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/)
  const appended = new Map<string, { table: string[]; lines: string[] }>()
  for (const edit of expandSubtables(lines, before, edits)) {
    const all = statements(lines)
    const headerIndex = edit.table.length === 0 ? -1 : all.findIndex((s) => s.kind === 'header' && samePath(s.path, edit.table))
    const entry = `${tomlKey(edit.key)} = ${edit.value === undefined ? '' : tomlValue(edit.value)}`
    if (edit.table.length > 0 && headerIndex < 0) {
      // A table with no header of its own exists only through its sub-tables' headers ([mcp_servers.docs]
      // makes mcp_servers): a new sub-table gets a header beside them. Defined otherwise (dotted keys,
      // an inline table), it is not ccred's to rewrite.
      if (!definedOnlyByHeaders(statements(lines), before, edit.table)) throw cannotEdit(edit.table, 'it is defined with dotted keys or as an inline table, not under its own header')
      if (edit.value === undefined) continue
      const section = isTableValue(edit.value) ? [...edit.table, edit.key] : edit.table
      const entries = isTableValue(edit.value) ? Object.entries(edit.value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`) : [entry]
      const id = JSON.stringify(section)
      const pending = appended.get(id) ?? { table: section, lines: [] }
      for (const line of entries) {
        pending.lines = pending.lines.filter((kept) => kept.split(' =')[0] !== line.split(' =')[0])
        pending.lines.push(line)
      }
      appended.set(id, pending)
      continue
    }
    const sectionStart = headerIndex + 1
    let sectionEnd = all.findIndex((s, i) => i >= sectionStart && s.kind === 'header')
    if (sectionEnd < 0) sectionEnd = all.length
    const section = all.slice(sectionStart, sectionEnd)
    const existing = section.find((s) => s.kind === 'keyval' && samePath(s.path, [edit.key]))
    if (section.some((s) => s.kind === 'keyval' && s.path.length > 1 && s.path[0] === edit.key)) throw cannotEdit([...edit.table, edit.key], 'it is set with dotted keys')
    if (existing !== undefined) {
      const indent = /^\s*/.exec(lines[existing.start]!)![0]
      const replacement = edit.value === undefined ? [] : [`${indent}${entry}`]
      lines = [...lines.slice(0, existing.start), ...replacement, ...lines.slice(existing.end + 1)]
      if (edit.value === undefined && headerIndex >= 0) lines = withoutEmptyTable(lines, edit.table)
      continue
    }
    if (edit.value === undefined) continue
    const lastKey = [...section].reverse().find((s) => s.kind === 'keyval')
    const insertAt = lastKey !== undefined ? lastKey.end + 1 : headerIndex >= 0 ? all[headerIndex]!.end + 1 : 0
    lines = [...lines.slice(0, insertAt), entry, ...lines.slice(insertAt)]
  }
  for (const { table, lines: entries } of appended.values()) {
    if (lines.length > 0 && lines.at(-1)!.trim() !== '') lines.push('')
    lines.push(`[${table.map(tomlKey).join('.')}]`, ...entries)
  }
  const after = lines.length === 0 ? '' : lines.join(newline) + newline
  let parsed: unknown
  try {
    parsed = parseToml(after)
  } catch (error) {
    throw new CcredError('ERR_CONFIG', `ccred cannot edit this file's layout safely: the result would not be valid TOML (${(error as Error).message.split('\n')[0]}); nothing was written`, { hint: 'make the change by hand (--dry-run shows it)', cause: error })
  }
  if (!isDeepStrictEqual(plain(parsed), applyToDocument(text, edits))) {
    throw new CcredError('ERR_INTERNAL', 'editing the TOML file would change more than ccred means to; nothing was written', { hint: 'this is a bug in ccred; edit the file by hand' })
  }
  return after
}
