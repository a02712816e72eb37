import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { CcredError } from '../errors.js'
import { hostPlatform, type Platform } from '../platform.js'

/**
 * Claude Code's settings layers, lowest precedence first (measured; see
 * docs/agents-facts.md#more-measured-behaviour-that-the-helper-must-respect): user < project < local < managed. A higher layer's
 * apiKeyHelper or env entry wins over a lower one's.
 */
export const SCOPES = ['user', 'project', 'local', 'managed'] as const
export type Scope = (typeof SCOPES)[number]

type Env = Record<string, string | undefined>

export interface SettingsLocation {
  scope: Scope
  path: string
}

/**
 * Where each layer's file is, for a project directory (Claude Code's working directory).
 * Managed settings can also come from MDM (a macOS plist, the Windows registry under
 * SOFTWARE\Policies\ClaudeCode): ccred reads only the file (docs/platforms.md).
 */
export function settingsLocations(env: Env, projectDir: string, platform: Platform = hostPlatform(env)): SettingsLocation[] {
  const { join: joinPath } = platform.path
  // Claude Code keeps its user files under CLAUDE_CONFIG_DIR when set, else ~/.claude (%USERPROFILE%\.claude on Windows).
  const userDir = env.CLAUDE_CONFIG_DIR || joinPath(platform.home, '.claude')
  return [
    { scope: 'user', path: joinPath(userDir, 'settings.json') },
    { scope: 'project', path: joinPath(projectDir, '.claude', 'settings.json') },
    { scope: 'local', path: joinPath(projectDir, '.claude', 'settings.local.json') },
    { scope: 'managed', path: managedSettingsPath(env, platform) },
  ]
}

function managedSettingsPath(env: Env, platform: Platform): string {
  // CCRED_CLAUDE_MANAGED_DIR lets tests (and unusual installs) point elsewhere.
  if (env.CCRED_CLAUDE_MANAGED_DIR) return platform.path.join(env.CCRED_CLAUDE_MANAGED_DIR, 'managed-settings.json')
  if (platform.os === 'darwin') return '/Library/Application Support/ClaudeCode/managed-settings.json'
  if (platform.os === 'win32') return 'C:\\Program Files\\ClaudeCode\\managed-settings.json'
  return '/etc/claude-code/managed-settings.json'
}

export type Settings = Record<string, unknown> & { env?: Record<string, unknown> }

export interface SettingsFile extends SettingsLocation {
  exists: boolean
  /** The file as it is on disk ('' when absent). */
  text: string
  settings: Settings
  /** The indentation the file uses, kept when it is rewritten. */
  indent: string
}

const MAX_SETTINGS_BYTES = 1024 * 1024
/** ~/.claude.json also holds Claude Code's per-project history, so it grows far beyond a settings file. */
export const MAX_CLAUDE_JSON_BYTES = 64 * 1024 * 1024

/** Reads one layer; an unreadable or invalid file is an error that names it (never overwritten). */
export function readSettings(location: SettingsLocation, maxBytes = MAX_SETTINGS_BYTES): SettingsFile {
  if (!existsSync(location.path)) return { ...location, exists: false, text: '', settings: {}, indent: '  ' }
  let text: string
  try {
    if (statSync(location.path).size > maxBytes) throw new Error(`larger than ${Math.round(maxBytes / 1024 / 1024)} MiB`)
    text = readFileSync(location.path, 'utf8')
  } catch (error) {
    throw new CcredError('ERR_CONFIG', `cannot read Claude Code ${location.scope} settings ${location.path}: ${(error as Error).message}`, {
      cause: error,
      hint: `check the file's permissions${location.scope === 'managed' ? ' (managed settings are usually root-owned: run with sudo)' : ''}`,
    })
  }
  if (text.trim() === '') return { ...location, exists: true, text, settings: {}, indent: '  ' }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new CcredError('ERR_CONFIG', `Claude Code ${location.scope} settings ${location.path} is not valid JSON (${(error as Error).message}); ccred will not rewrite it`, {
      hint: `fix the JSON in ${location.path} (Claude Code ignores an invalid file too), then run the command again`,
    })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CcredError('ERR_CONFIG', `Claude Code ${location.scope} settings ${location.path} is not a JSON object`, { hint: `fix ${location.path}` })
  }
  const settings = parsed as Settings
  if (settings.env !== undefined && (typeof settings.env !== 'object' || settings.env === null || Array.isArray(settings.env))) {
    throw new CcredError('ERR_CONFIG', `"env" in ${location.path} is not an object`, { hint: `fix ${location.path}` })
  }
  return { ...location, exists: true, text, settings, indent: /^\{\s*\n([ \t]+)"/.exec(text)?.[1] ?? '  ' }
}

export function serializeSettings(settings: Settings, indent: string): string {
  return `${JSON.stringify(settings, null, indent)}\n`
}

/**
 * Atomic replace (temp file + rename) keeping the file's mode, or taking `modeOf`'s
 * (a backup must be no more readable than the file it copies, which may hold a key);
 * creates the directory if needed.
 */
export function writeFileAtomic(path: string, text: string, modeOf: string = path): void {
  mkdirSync(dirname(path), { recursive: true })
  const mode = existsSync(modeOf) ? statSync(modeOf).mode & 0o777 : 0o644
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.ccred-tmp`)
  try {
    writeFileSync(temp, text, { mode })
    chmodSync(temp, mode)
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, { force: true })
    throw new CcredError('ERR_CONFIG', `cannot write ${path}: ${(error as Error).message}`, { cause: error, hint: 'check the directory\'s permissions' })
  }
}

/**
 * A settings key path: a top-level key, ["env", NAME], or a deeper path such as
 * ["mcpServers", SERVER, "headersHelper"] (~/.claude.json and .mcp.json).
 */
export type SettingKey = readonly [string] | readonly [string, string] | readonly [string, string, string]

export function keyName(key: SettingKey): string {
  return key.join('.')
}

/** Whether the key is an `env` entry named one of `names`. */
export function isEnvKey(key: SettingKey, names: readonly string[]): boolean {
  return key.length === 2 && key[0] === 'env' && names.includes(key[1])
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
