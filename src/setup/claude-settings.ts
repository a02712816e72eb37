import { CcredError } from '../errors.js'
import { jsonFormat, type JsonDocument, type Settings } from './document-format.js'
import { readFollowing, readForEdit, type FileSnapshot, type ReadLabel } from './settings-file.js'
import { hostPlatform, type Platform } from '../platform.js'
import { managedSettingsPathFor } from './claude-paths.js'

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
  return managedSettingsPathFor(platform.os)
}

export type { Settings }

/** One layer's file as read: its text, settings and indentation (for a rewrite), and what was on disk. */
export interface SettingsFile extends SettingsLocation, FileSnapshot {
  settings: Settings
  /** The indentation the file uses, kept when it is rewritten. */
  indent: string
}

const MAX_SETTINGS_BYTES = 1024 * 1024
/** ~/.claude.json also holds Claude Code's per-project history, so it grows far beyond a settings file. */
export const MAX_CLAUDE_JSON_BYTES = 64 * 1024 * 1024

/**
 * Reads one layer to check it (doctor, the layers setup does not write): links are
 * followed, as Claude Code follows them. An unreadable or invalid file is an error that names it.
 */
export function readSettings(location: SettingsLocation, maxBytes = MAX_SETTINGS_BYTES): SettingsFile {
  return parseLayer(location, readFollowing(location.path, { maxBytes, label: labelOf(location) }))
}

/**
 * Reads one layer that setup is about to rewrite: a link, a non-regular file or
 * another user's file is refused (settings-file.ts); `projectDir` for the project's own
 * files, so no linked directory leads out of it.
 */
export function readSettingsForEdit(location: SettingsLocation, maxBytes = MAX_SETTINGS_BYTES, projectDir?: string): SettingsFile {
  return parseLayer(location, readForEdit(location.path, { maxBytes, label: labelOf(location), ...(projectDir === undefined ? {} : { within: projectDir }) }))
}

function labelOf(location: SettingsLocation): ReadLabel {
  return { what: `Claude Code ${location.scope} settings`, hint: `check the file's permissions${location.scope === 'managed' ? ' (managed settings are usually root-owned: run with sudo)' : ''}` }
}

function parseLayer(location: SettingsLocation, snapshot: FileSnapshot): SettingsFile {
  let document: JsonDocument
  try {
    document = jsonFormat.parse(snapshot.text, location.path)
  } catch (error) {
    const failure = error as CcredError
    throw new CcredError('ERR_CONFIG', `Claude Code ${location.scope} settings ${failure.message}`, {
      hint: /not valid JSON/.test(failure.message) ? `fix the JSON in ${location.path} (Claude Code ignores an invalid file too), then run the command again` : `fix ${location.path}`,
    })
  }
  const { settings, indent } = document
  if (settings.env !== undefined && (typeof settings.env !== 'object' || settings.env === null || Array.isArray(settings.env))) {
    throw new CcredError('ERR_CONFIG', `"env" in ${location.path} is not an object`, { hint: `fix ${location.path}` })
  }
  return { ...location, ...snapshot, settings, indent }
}
