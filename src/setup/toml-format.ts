import { parse as parseToml } from 'smol-toml'
import { CcredError } from '../errors.js'
import type { DocumentFormat, SettingKey } from './document-format.js'
import { editToml, tomlKey, type TomlValue } from './toml-edit.js'

/**
 * TOML settings (Codex's config.toml) for setup's plan/apply/undo: the document is the
 * file's own text, edited in place by toml-edit.ts, so every line setup does not change
 * comes out byte for byte (comments, order, other tables).
 */
export interface TomlDocument {
  text: string
  /** The parsed text, for reading values. */
  values: Record<string, unknown>
}

function parseText(text: string, path: string): TomlDocument {
  try {
    return { text, values: parseToml(text) as Record<string, unknown> }
  } catch (error) {
    throw new CcredError('ERR_CONFIG', `${path} is not valid TOML (${(error as Error).message.split('\n')[0]}); ccred will not rewrite it`, {
      hint: `fix the TOML in ${path}, then run the command again`,
      cause: error,
    })
  }
}

function valueAt(values: Record<string, unknown>, key: SettingKey): unknown {
  let node: unknown = values
  for (const part of key) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined
    node = (node as Record<string, unknown>)[part]
  }
  // Plain data, as the JSON format returns it (smol-toml's tables have no Object prototype, its dates are objects).
  return node === undefined ? undefined : (JSON.parse(JSON.stringify(node)) as unknown)
}

const KEY_AT_START = /^(\s*)((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)(\s*=\s*)(.*)$/
const INLINE_PAIR = /((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))(\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')/g

function unquoteKey(key: string): string {
  if (key.startsWith('"')) return JSON.parse(key) as string
  if (key.startsWith("'")) return key.slice(1, -1)
  return key
}

export const tomlFormat: DocumentFormat<TomlDocument> = {
  name: 'TOML',
  parse: parseText,
  get: (doc, key) => valueAt(doc.values, key),
  with(doc, key, value) {
    const text = editToml(doc.text, [{ table: key.slice(0, -1), key: key.at(-1)!, value: value as TomlValue | undefined }])
    return { text, values: parseToml(text) as Record<string, unknown> }
  },
  serialize: (doc) => doc.text,
  hideValues(line, secret) {
    const whole = KEY_AT_START.exec(line)
    if (whole !== null) {
      const lastKey = whole[2]!.split('.').at(-1)!.trim()
      if (secret(unquoteKey(lastKey))) return `${whole[1]}${whole[2]}${whole[3]}<hidden>`
    }
    // Inline tables (`http_headers = { Authorization = "Bearer …" }`) hide each secret pair.
    return line.replace(INLINE_PAIR, (pair, name: string, equals: string) => (secret(unquoteKey(name)) ? `${name}${equals}<hidden>` : pair))
  },
}

/** A key path as TOML writes it, for messages. */
export function tomlPath(key: SettingKey): string {
  return key.map(tomlKey).join('.')
}
