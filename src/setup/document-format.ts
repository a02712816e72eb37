import { CcredError } from '../errors.js'

/**
 * A key inside a settings document: a top-level key, ["env", NAME], or a deeper path
 * such as ["mcpServers", SERVER, "headersHelper"] (~/.claude.json and .mcp.json).
 */
export type SettingKey = readonly [string] | readonly [string, string] | readonly [string, string, string]

export function keyName(key: SettingKey): string {
  return key.join('.')
}

/**
 * How setup reads and writes one kind of settings file, so planning, applying and
 * undoing (file-plan.ts) know nothing of the syntax. JSON today (Claude Code); a TOML
 * adapter (Codex's config.toml) plugs in with a document that keeps the file's
 * comments, key order and layout: `with` edits that document in place of the key and
 * `serialize` prints it, so untouched lines come out byte for byte.
 */
export interface DocumentFormat<Doc> {
  /** For messages: "JSON", "TOML". */
  readonly name: string
  /** Parses a file's text ('' is an empty document); a CcredError naming `path` when it is not a document of this format. */
  parse(text: string, path: string): Doc
  /** The plain value at `key` (objects, arrays, strings, numbers, booleans), or undefined. */
  get(doc: Doc, key: SettingKey): unknown
  /**
   * A document with `key` set to `value` (undefined removes it, and a table the
   * removal leaves empty); `doc` itself is not changed.
   */
  with(doc: Doc, key: SettingKey, value: unknown): Doc
  /** The text to write. */
  serialize(doc: Doc): string
  /**
   * The line with the value of every key `secret(name)` picks shown as `<hidden>`, wherever
   * on the line it is (a compact file keeps a whole table on one line): how a diff of the
   * file is printed without the credentials it holds.
   */
  hideValues(line: string, secret: (name: string) => boolean): string
}

export type Settings = Record<string, unknown> & { env?: Record<string, unknown> }

/** A JSON settings object and the indentation its file uses (kept when it is rewritten). */
export interface JsonDocument {
  settings: Settings
  indent: string
}

export function getSetting(settings: Settings, key: SettingKey): unknown {
  let node: unknown = settings
  for (const part of key) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

/**
 * Sets (value defined) or removes (undefined) a key; a table left empty by a
 * removal (an empty env, a server with nothing left) is removed too.
 */
export function setSetting(settings: Settings, key: SettingKey, value: unknown): void {
  const [head, ...rest] = key
  if (rest.length === 0) {
    if (value === undefined) delete settings[head]
    else settings[head] = value
    return
  }
  const current = settings[head]
  const table: Settings = typeof current === 'object' && current !== null && !Array.isArray(current) ? { ...(current as Settings) } : {}
  setSetting(table, rest as unknown as SettingKey, value)
  if (Object.keys(table).length === 0) delete settings[head]
  else settings[head] = table
}

/**
 * JSON: parsed whole and written with JSON.stringify in the file's own indentation,
 * so a file in that layout (as Claude Code writes its files) changes only where a key
 * does; a file in another layout is rewritten whole, and the diff shows it.
 */
export const jsonFormat: DocumentFormat<JsonDocument> = {
  name: 'JSON',
  parse(text, path) {
    if (text.trim() === '') return { settings: {}, indent: '  ' }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new CcredError('ERR_CONFIG', `${path} is not valid JSON (${(error as Error).message}); ccred will not rewrite it`, {
        hint: `fix the JSON in ${path}, then run the command again`,
      })
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CcredError('ERR_CONFIG', `${path} is not a JSON object`, { hint: `fix ${path}` })
    }
    return { settings: parsed as Settings, indent: /^\{\s*\n([ \t]+)"/.exec(text)?.[1] ?? '  ' }
  },
  get: (doc, key) => getSetting(doc.settings, key),
  with(doc, key, value) {
    const settings = structuredClone(doc.settings)
    setSetting(settings, key, value)
    return { settings, indent: doc.indent }
  },
  serialize: (doc) => `${JSON.stringify(doc.settings, null, doc.indent)}\n`,
  hideValues: (line, secret) =>
    line.replace(/"((?:[^"\\]|\\.)*)"(\s*:\s*)"(?:[^"\\]|\\.)*"/g, (pair, name: string, colon: string) => (secret(name) ? `"${name}"${colon}<hidden>` : pair)),
}

/**
 * A file setup owns whole (a small script an agent runs): one key, ["content"], holding
 * all of its text, so plan, diff, backup and undo work on it as on a settings file.
 */
export const wholeTextFormat: DocumentFormat<{ text: string }> = {
  name: 'text',
  parse: (text) => ({ text }),
  get: (doc, key) => (key.length === 1 && key[0] === 'content' && doc.text !== '' ? doc.text : undefined),
  with(_doc, key, value) {
    if (key.length !== 1 || key[0] !== 'content') throw new TypeError(`a whole-text file has only the key "content", not ${keyName(key)}`)
    return { text: typeof value === 'string' ? value : '' }
  },
  serialize: (doc) => doc.text,
  hideValues: (line) => line,
}
