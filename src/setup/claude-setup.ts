import type { Header } from '../config/settings.js'
import type { Platform } from '../platform.js'
import { helperTtlVariable, setupHookFor } from '../callers/claude-code.js'
import { OTEL_DEBOUNCE_VARIABLE } from './claude-hooks.js'
import { readSettings, readSettingsForEdit, settingsLocations, SCOPES, type Scope, type SettingsFile } from './claude-settings.js'
import { getSetting, jsonFormat, type JsonDocument, type SettingKey } from './document-format.js'
import { planEdit, type FilePlan } from './file-plan.js'

export const MODES = ['anthropic', 'bedrock', 'vertex'] as const
export type Mode = (typeof MODES)[number]

/** Credential variables that fight a helper: each wins over it for one header (docs/agents-facts.md). */
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
  /** The command that runs ccred: absolute for the user's own files (e.g. "'/usr/bin/node' '/opt/ccred/dist/cmd/ccred.cjs'"), `ccred` for a file the project shares. */
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

export interface Conflict {
  /** Where: a settings scope, or "shell" for the environment ccred runs in. */
  where: Scope | 'shell'
  path?: string
  key: string
  why: string
  /** Removed by --fix (settings only; a shell variable must be unset by the user). */
  fixable: boolean
}

export interface SetupPlan {
  target: FilePlan<JsonDocument>
  /** Other layers --fix edits (removing fighting keys). */
  others: FilePlan<JsonDocument>[]
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
  // Without this, the helper's value also goes to Anthropic's telemetry endpoints (docs/agents-facts.md).
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

/**
 * The plan for one Claude Code settings layer: read again for editing (a link, a
 * special file or another user's file is refused), a project layer kept inside its project.
 */
export function planLayer(location: SettingsFile, wanted: readonly (readonly [SettingKey, unknown])[], projectDir: string, maxBytes?: number): FilePlan<JsonDocument> {
  const inProject = location.scope === 'project' || location.scope === 'local'
  const file = readSettingsForEdit(location, maxBytes, inProject ? projectDir : undefined)
  return planEdit(file, jsonFormat, { settings: file.settings, indent: file.indent }, wanted, { scope: location.scope, ...(inProject ? { projectDir } : {}), shared: location.scope === 'project' })
}

/**
 * Reads every layer, works out what to write into the target layer, and what
 * in any layer (or the shell) would override or fight the helper.
 */
export function planSetup(request: SetupRequest, env: Record<string, string | undefined>, projectDir: string, platform?: Platform): SetupPlan {
  // Every layer is read to find what fights the helper; only those written are read again strictly.
  const files = settingsLocations(env, projectDir, platform).map((location) => readSettings(location))
  const targetIndex = SCOPES.indexOf(request.scope)
  const desired = desiredSettings(request)
  const targetAfterDesired = planEdit(files[targetIndex]!, jsonFormat, { settings: files[targetIndex]!.settings, indent: files[targetIndex]!.indent }, desired, { scope: request.scope }).next.settings
  const helperKey = setupHookFor(request.header)
  const conflicts: Conflict[] = []
  const removals = new Map<number, SettingKey[]>()
  files.forEach((file, index) => {
    if (!request.helper) return
    const settings = index === targetIndex ? targetAfterDesired : file.settings
    for (const name of COMPETING_VARIABLES) {
      if (getSetting(settings, ['env', name]) === undefined) continue
      conflicts.push({ where: file.scope, path: file.path, key: `env.${name}`, why: `${name} wins over the helper for ${name === 'ANTHROPIC_API_KEY' ? 'X-Api-Key' : 'Authorization'}`, fixable: true })
      removals.set(index, [...(removals.get(index) ?? []), ['env', name]])
    }
    if (index > targetIndex && settings[helperKey] !== undefined && settings[helperKey] !== getSetting(targetAfterDesired, [helperKey])) {
      conflicts.push({ where: file.scope, path: file.path, key: helperKey, why: `the ${file.scope} layer outranks ${request.scope} and runs its own ${helperKey}`, fixable: true })
      removals.set(index, [...(removals.get(index) ?? []), [helperKey]])
    }
  })
  for (const name of request.helper ? COMPETING_VARIABLES : []) {
    if (env[name] !== undefined && env[name] !== '') conflicts.push({ where: 'shell', key: name, why: `set in this shell's environment: it wins over the helper; unset it (and remove it from your shell profile)`, fixable: false })
  }
  const removalsOf = (index: number) => (request.fix ? removals.get(index) ?? [] : []).map((key) => [key, undefined] as const)
  const target = planLayer(files[targetIndex]!, [...desired, ...removalsOf(targetIndex)], projectDir)
  const others: FilePlan<JsonDocument>[] = []
  for (const index of request.fix ? removals.keys() : []) {
    if (index !== targetIndex) others.push(planLayer(files[index]!, removalsOf(index), projectDir))
  }
  return { target, others, conflicts }
}
