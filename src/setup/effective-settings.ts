import type { Platform } from '../platform.js'
import { mayUse, type WorkspaceTrust } from '../trust/workspace.js'
import { readSettings, settingsLocations, type Scope, type SettingsFile } from './claude-settings.js'

type Env = Record<string, string | undefined>

/** Claude Code's view: each setting from the highest layer that has it, env merged key by key. */
export interface EffectiveClaudeSettings {
  /** Every layer, lowest first; an unreadable or invalid one is there with no settings and `invalid`. */
  files: (SettingsFile & { invalid?: boolean })[]
  value(key: string): { value: unknown; scope: Scope } | undefined
  env(name: string): { value: string; scope: Scope | 'shell' } | undefined
  /**
   * The environment Claude Code gives a helper: `base` plus every layer's settings env,
   * lowest first; a project's layers only when the user trusts them for this run.
   */
  helperEnv(base: Env, trust: WorkspaceTrust): Env
}

/**
 * The settings Claude Code would run with in `projectDir`, for checks (doctor) and for
 * setup's warnings about what the settings will do after it writes.
 */
export function effectiveClaudeSettings(env: Env, projectDir: string, platform?: Platform): EffectiveClaudeSettings {
  const files = settingsLocations(env, projectDir, platform).map((location): SettingsFile & { invalid?: boolean } => {
    try {
      return readSettings(location)
    } catch {
      return { ...location, exists: true, text: '', settings: {}, indent: '  ', invalid: true }
    }
  })
  const highestFirst = [...files].reverse()
  return {
    files,
    value(key) {
      const file = highestFirst.find((f) => f.settings[key] !== undefined)
      return file === undefined ? undefined : { value: file.settings[key], scope: file.scope }
    },
    env(name) {
      const file = highestFirst.find((f) => typeof f.settings.env?.[name] === 'string')
      if (file !== undefined) return { value: file.settings.env![name] as string, scope: file.scope }
      return env[name] === undefined ? undefined : { value: env[name]!, scope: 'shell' }
    },
    helperEnv(base, trust) {
      const merged: Env = { ...base }
      for (const file of files) {
        if (!mayUse(file.scope, trust)) continue
        for (const [name, value] of Object.entries(file.settings.env ?? {})) if (typeof value === 'string') merged[name] = value
      }
      return merged
    },
  }
}
