import { existsSync, readFileSync, rmSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import type { Header } from '../config/settings.js'
import type { Platform } from '../platform.js'
import { CcredError } from '../errors.js'
import { helperTtlVariable, setupHookFor } from '../callers/claude-code.js'
import { OTEL_DEBOUNCE_VARIABLE } from './hooks.js'
import {
  getSetting, isEnvKey, keyName, MAX_CLAUDE_JSON_BYTES, readSettings, serializeSettings, setSetting, settingsLocations, SCOPES, writeFileAtomic,
  type Scope, type SettingKey, type Settings, type SettingsFile,
} from './settings.js'

export const MODES = ['anthropic', 'bedrock', 'vertex'] as const
export type Mode = (typeof MODES)[number]

/** Credential variables that fight a helper: each wins over it for one header (claude-code-auth.md). */
export const COMPETING_VARIABLES = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'] as const

/**
 * Claude Code's other hooks that `setup claude` can point at ccred, with or
 * without the main helper.
 */
export interface HookSetupRequest {
  /** otelHeadersHelper: `<ccred> get <profile> --format headers`. */
  otelProfile?: string
  /** Also write the OTLP exporter settings for this collector (http/json, telemetry on, otlp exporters). */
  otelEndpoint?: string
  /** CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS to set (the otel profile's values live shorter than the default 29 min). */
  otelDebounceMs?: number
  /** awsAuthRefresh / gcpAuthRefresh: `<ccred> login <profile>` (an SSO profile). */
  awsAuthRefreshProfile?: string
  gcpAuthRefreshProfile?: string
}

export interface SetupRequest {
  /** false: only the hooks (setup claude --otel p with no main profile); profile, header, mode are then not written. */
  helper: boolean
  hooks?: HookSetupRequest
  profile: string
  sourceKind: string
  /** An aws profile that yields AWS credentials (not a Bedrock API key): Claude Code's awsCredentialExport. */
  awsCredentials: boolean
  header: Header
  scope: Scope
  mode: Mode
  /** The command that runs ccred, absolute (e.g. "'/usr/bin/node' '/opt/ccred/dist/cmd/ccred.cjs'"). */
  ccredCommand: string
  gatewayUrl?: string
  proxyUrl?: string
  vertexProjectId?: string
  vertexRegion?: string
  /** The helper TTL to set, from the credential's lifetime; undefined leaves Claude Code's default. */
  helperTtlMs?: number
  /** Remove the settings that would override or fight the helper. */
  fix: boolean
}

export interface Change {
  key: SettingKey
  before: unknown
  after: unknown
}

export interface Conflict {
  /** Where: a settings scope, or "shell" for the environment ccred runs in. */
  where: Scope | 'shell'
  path?: string
  key: string
  why: string
  /** Removed by --fix (settings only; a shell variable must be unset by the user). */
  fixable: boolean
}

export interface FilePlan {
  file: SettingsFile
  changes: Change[]
  next: Settings
}

export interface SetupPlan {
  target: FilePlan
  /** Other layers --fix edits (removing fighting keys). */
  others: FilePlan[]
  conflicts: Conflict[]
}

const MODE_FLAGS: Record<Mode, string | undefined> = { anthropic: undefined, bedrock: 'CLAUDE_CODE_USE_BEDROCK', vertex: 'CLAUDE_CODE_USE_VERTEX' }

/** What ccred writes for the other hooks. */
export function hookSettings(hooks: HookSetupRequest, ccredCommand: string): [SettingKey, unknown][] {
  const wanted: [SettingKey, unknown][] = []
  if (hooks.otelProfile !== undefined) {
    wanted.push([['otelHeadersHelper'], `${ccredCommand} get ${hooks.otelProfile} --format headers`])
    if (hooks.otelDebounceMs !== undefined) wanted.push([['env', OTEL_DEBOUNCE_VARIABLE], String(hooks.otelDebounceMs)])
  }
  if (hooks.otelEndpoint !== undefined) {
    wanted.push([['env', 'CLAUDE_CODE_ENABLE_TELEMETRY'], '1'])
    wanted.push([['env', 'OTEL_METRICS_EXPORTER'], 'otlp'])
    wanted.push([['env', 'OTEL_LOGS_EXPORTER'], 'otlp'])
    wanted.push([['env', 'OTEL_EXPORTER_OTLP_PROTOCOL'], 'http/json'])
    wanted.push([['env', 'OTEL_EXPORTER_OTLP_ENDPOINT'], hooks.otelEndpoint])
  }
  if (hooks.awsAuthRefreshProfile !== undefined) wanted.push([['awsAuthRefresh'], `${ccredCommand} login ${hooks.awsAuthRefreshProfile}`])
  if (hooks.gcpAuthRefreshProfile !== undefined) wanted.push([['gcpAuthRefresh'], `${ccredCommand} login ${hooks.gcpAuthRefreshProfile}`])
  return wanted
}

/** What ccred writes into the target layer for this profile and mode (and the hooks asked for). */
export function desiredSettings(request: SetupRequest): [SettingKey, unknown][] {
  const hooks = request.hooks === undefined ? [] : hookSettings(request.hooks, request.ccredCommand)
  if (!request.helper) return hooks
  const wanted: [SettingKey, unknown][] = [...hooks]
  const proxy = request.header === 'proxy-authorization'
  const awsExport = request.mode === 'bedrock' && request.awsCredentials
  if (awsExport) {
    wanted.push([['awsCredentialExport'], `${request.ccredCommand} aws-export ${request.profile}`])
  } else if (proxy) {
    wanted.push([['proxyAuthHelper'], `${request.ccredCommand} get ${request.profile}`])
    wanted.push([['env', 'CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER'], '1'])
    if (request.proxyUrl !== undefined) wanted.push([['env', 'HTTPS_PROXY'], request.proxyUrl])
  } else {
    wanted.push([['apiKeyHelper'], `${request.ccredCommand} get ${request.profile}`])
  }
  if (request.helperTtlMs !== undefined && !awsExport) {
    wanted.push([['env', helperTtlVariable(setupHookFor(request.header))!], String(request.helperTtlMs)])
  }
  // Without this, the helper's value also goes to Anthropic's telemetry endpoints (claude-code-auth.md).
  wanted.push([['env', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC'], '1'])
  for (const mode of MODES) {
    const flag = MODE_FLAGS[mode]
    if (flag !== undefined) wanted.push([['env', flag], mode === request.mode ? '1' : undefined])
  }
  switch (request.mode) {
    case 'anthropic':
      if (request.gatewayUrl !== undefined) wanted.push([['env', 'ANTHROPIC_BASE_URL'], request.gatewayUrl])
      break
    case 'bedrock':
      if (request.gatewayUrl !== undefined) wanted.push([['env', 'ANTHROPIC_BEDROCK_BASE_URL'], request.gatewayUrl])
      wanted.push([['env', 'CLAUDE_CODE_SKIP_BEDROCK_AUTH'], awsExport ? undefined : '1'])
      break
    case 'vertex':
      if (request.gatewayUrl !== undefined) wanted.push([['env', 'ANTHROPIC_VERTEX_BASE_URL'], request.gatewayUrl])
      if (request.vertexProjectId !== undefined) wanted.push([['env', 'ANTHROPIC_VERTEX_PROJECT_ID'], request.vertexProjectId])
      wanted.push([['env', 'CLOUD_ML_REGION'], request.vertexRegion ?? 'us-east5'])
      wanted.push([['env', 'CLAUDE_CODE_SKIP_VERTEX_AUTH'], '1'])
      break
  }
  return wanted
}

/** The plan that sets each wanted key, skipping those that already hold the value. */
export function applyChanges(file: SettingsFile, wanted: [SettingKey, unknown][]): FilePlan {
  const next = structuredClone(file.settings)
  const changes: Change[] = []
  for (const [key, after] of wanted) {
    const before = getSetting(next, key)
    if (isDeepStrictEqual(before, after)) continue
    setSetting(next, key, after)
    changes.push({ key, before, after })
  }
  return { file, changes, next }
}

/**
 * Reads every layer, works out what to write into the target layer, and what
 * in any layer (or the shell) would override or fight the helper.
 */
export function planSetup(request: SetupRequest, env: Record<string, string | undefined>, projectDir: string, platform?: Platform): SetupPlan {
  const files = settingsLocations(env, projectDir, platform).map((location) => readSettings(location))
  const targetIndex = SCOPES.indexOf(request.scope)
  const target = applyChanges(files[targetIndex]!, desiredSettings(request))
  const helperKey = setupHookFor(request.header)
  const conflicts: Conflict[] = []
  const removals = new Map<number, SettingKey[]>()
  files.forEach((file, index) => {
    if (!request.helper) return
    const settings = index === targetIndex ? target.next : file.settings
    for (const name of COMPETING_VARIABLES) {
      if (getSetting(settings, ['env', name]) === undefined) continue
      conflicts.push({ where: file.scope, path: file.path, key: `env.${name}`, why: `${name} wins over the helper for ${name === 'ANTHROPIC_API_KEY' ? 'X-Api-Key' : 'Authorization'}`, fixable: true })
      removals.set(index, [...(removals.get(index) ?? []), ['env', name]])
    }
    if (index > targetIndex && settings[helperKey] !== undefined && settings[helperKey] !== getSetting(target.next, [helperKey])) {
      conflicts.push({ where: file.scope, path: file.path, key: helperKey, why: `the ${file.scope} layer outranks ${request.scope} and runs its own ${helperKey}`, fixable: true })
      removals.set(index, [...(removals.get(index) ?? []), [helperKey]])
    }
  })
  for (const name of request.helper ? COMPETING_VARIABLES : []) {
    if (env[name] !== undefined && env[name] !== '') conflicts.push({ where: 'shell', key: name, why: `set in this shell's environment: it wins over the helper; unset it (and remove it from your shell profile)`, fixable: false })
  }
  const others: FilePlan[] = []
  if (request.fix) {
    for (const [index, keys] of removals) {
      if (index === targetIndex) {
        for (const key of keys) {
          target.changes.push({ key, before: getSetting(target.next, key), after: undefined })
          setSetting(target.next, key, undefined)
        }
      } else {
        others.push(applyChanges(files[index]!, keys.map((key) => [key, undefined])))
      }
    }
  }
  return { target, others, conflicts }
}

/** What ccred remembers of a setup, to undo its own changes and nothing else. */
interface LedgerEntry {
  profile: string
  at: string
  existed: boolean
  backupPath?: string
  /** For each key ccred changed: what it wrote; `removedSecret` when --fix removed a value (kept only in the backup). */
  changes: { key: SettingKey; wrote: unknown; before?: unknown; hadBefore: boolean; removedSecret?: boolean }[]
}

type Ledger = Record<string, LedgerEntry>

function readLedger(path: string): Ledger {
  if (!existsSync(path)) return {}
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Ledger
  } catch {
    throw new CcredError('ERR_CONFIG', `ccred's setup record ${path} is not valid JSON`, { hint: `restore the settings from their .ccred-backup file by hand, then delete ${path}` })
  }
}

/**
 * Writes a file plan: a backup of the file as it was (once: the first setup's backup
 * is the one undo restores), the new file atomically, and the ledger entry.
 */
export function applyFilePlan(plan: FilePlan, profile: string, ledgerPath: string, now: Date): void {
  if (plan.changes.length === 0) return
  const ledger = readLedger(ledgerPath)
  const previous = ledger[plan.file.path]
  const entry: LedgerEntry = previous ?? { profile, at: now.toISOString(), existed: plan.file.exists, changes: [] }
  if (previous === undefined && plan.file.exists) {
    entry.backupPath = `${plan.file.path}.ccred-backup`
    writeFileAtomic(entry.backupPath, plan.file.text, plan.file.path)
  }
  for (const change of plan.changes) {
    const known = entry.changes.find((c) => keyName(c.key) === keyName(change.key))
    const removedSecret = change.after === undefined && isEnvKey(change.key, COMPETING_VARIABLES)
    if (known !== undefined) {
      known.wrote = change.after
      continue
    }
    const record: LedgerEntry['changes'][number] = { key: change.key, wrote: change.after, hadBefore: change.before !== undefined }
    if (removedSecret) record.removedSecret = true
    else if (change.before !== undefined) record.before = change.before
    entry.changes.push(record)
  }
  writeFileAtomic(plan.file.path, serializeSettings(plan.next, plan.file.indent))
  ledger[plan.file.path] = entry
  writeFileAtomic(ledgerPath, `${JSON.stringify(ledger, null, 2)}\n`)
}

export interface UndoResult {
  path: string
  restored: string[]
  /** Keys the user changed after setup: left as they are. */
  keptUserEdits: string[]
  /** The file is byte-for-byte what it was before setup (or gone again, if setup created it). */
  original: boolean
  /** Setup had created the file, and undo removed it again. */
  removed: boolean
}

/** Reverts ccred's own changes in every file it set up; keys edited since are left alone. */
export function undoSetup(ledgerPath: string, dryRun: boolean): UndoResult[] {
  const ledger = readLedger(ledgerPath)
  const results: UndoResult[] = []
  for (const [path, entry] of Object.entries(ledger)) {
    const current = readSettings({ scope: 'user', path }, MAX_CLAUDE_JSON_BYTES)
    const next = structuredClone(current.settings)
    const result: UndoResult = { path, restored: [], keptUserEdits: [], original: false, removed: false }
    const backup = entry.backupPath !== undefined && existsSync(entry.backupPath) ? readSettings({ scope: 'user', path: entry.backupPath }, MAX_CLAUDE_JSON_BYTES) : undefined
    for (const change of entry.changes) {
      if (!isDeepStrictEqual(getSetting(next, change.key), change.wrote)) {
        result.keptUserEdits.push(keyName(change.key))
        continue
      }
      const before = change.removedSecret ? (backup === undefined ? undefined : getSetting(backup.settings, change.key)) : change.before
      setSetting(next, change.key, change.hadBefore ? before : undefined)
      result.restored.push(keyName(change.key))
    }
    const backToBackup = backup !== undefined && isDeepStrictEqual(next, backup.settings)
    result.removed = !backToBackup && !entry.existed && Object.keys(next).length === 0
    result.original = backToBackup || result.removed
    if (!dryRun) {
      if (backToBackup) {
        writeFileAtomic(path, backup.text)
      } else if (result.removed) {
        rmSync(path, { force: true })
      } else {
        writeFileAtomic(path, serializeSettings(next, current.indent))
      }
      if (entry.backupPath !== undefined) rmSync(entry.backupPath, { force: true })
      delete ledger[path]
    }
    results.push(result)
  }
  if (!dryRun) {
    if (Object.keys(ledger).length === 0) rmSync(ledgerPath, { force: true })
    else writeFileAtomic(ledgerPath, `${JSON.stringify(ledger, null, 2)}\n`)
  }
  return results
}

/** A unified-style diff of the settings, for --dry-run: key by key, values shown except removed secrets. */
export function describeChanges(plan: FilePlan): string[] {
  return plan.changes.map((change) => {
    const name = keyName(change.key)
    const secret = isEnvKey(change.key, COMPETING_VARIABLES)
    const show = (value: unknown) => (secret ? '<hidden>' : JSON.stringify(value))
    if (change.before === undefined) return `+ ${name}: ${show(change.after)}`
    if (change.after === undefined) return `- ${name}: ${show(change.before)}`
    return `~ ${name}: ${show(change.before)} -> ${show(change.after)}`
  })
}
