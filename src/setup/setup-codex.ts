import { mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { withInProcessService } from '../client/in-process.js'
import { dataDir } from '../config/paths.js'
import { CcredError } from '../errors.js'
import type { Platform } from '../platform.js'
import { ccredArgv, ccredCommand } from './ccred-command.js'
import { wholeTextFormat, type SettingKey } from './document-format.js'
import { applyPlans, planEdit, type FilePlan } from './file-plan.js'
import { helperTtlFor, measureLifetime } from './lifetime.js'
import { ensurePrivateDir, readForEdit, type FileSnapshot } from './settings-file.js'
import { setupRecord, type SetupContext } from './setup-claude.js'
import { tomlFormat, type TomlDocument } from './toml-format.js'

type Env = Record<string, string | undefined>

/**
 * `ccred setup codex`: Codex's config.toml gets a model provider whose `auth` command is
 * ccred (exec'd by Codex without a shell, so an argv, never one string), and optionally an
 * MCP server's `http_headers_helper` (a string Codex runs with `sh -c`) and the OTel
 * `headers_helper` (a path Codex runs with no arguments: a small script ccred writes).
 * Everything else in the file stays as it was (toml-edit.ts); plan, diff, backup and undo
 * are setup's one mechanism (file-plan.ts).
 */

/** What `ccred setup codex` was asked for, checked by the command. */
export interface CodexSetupInput {
  profileName: string
  /** The `[model_providers.<id>]` table; default: the profile's name. */
  providerId?: string
  baseUrl?: string
  wireApi?: string
  /** Also make it the `model_provider` Codex uses by default. */
  makeDefault: boolean
  mcpServer?: string
  mcpUrl?: string
  otel: boolean
  /** Remove the keys Codex refuses beside `auth` instead of stopping. */
  fix: boolean
}

export interface PreparedCodexSetup {
  plans: FilePlan[]
  warnings: string[]
  configPath: string
  refreshIntervalMs: number
}

/** Keys Codex refuses in a provider that has `auth` (it exits at config load: "provider auth cannot be combined with …"). */
export const AUTH_EXCLUSIVE_KEYS = ['env_key', 'experimental_bearer_token', 'requires_openai_auth'] as const

/** How long Codex waits for the helper; above a cold ccred start on a loaded machine. */
export const CODEX_AUTH_TIMEOUT_MS = 10_000

/** Codex's OTel helper needs a positive interval; for credentials that never expire, the same half hour Claude Code debounces by. */
const OTEL_INTERVAL_WITHOUT_EXPIRY_MS = 29 * 60_000

/** Without a measured lifetime (the fetch failed): Codex re-runs the helper every 5 minutes, as Claude Code does by default. */
const FALLBACK_REFRESH_INTERVAL_MS = 300_000

const PROVIDER_ID = /^[A-Za-z0-9_-]{1,64}$/
const SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/
const MAX_CODEX_CONFIG_BYTES = 4 * 1024 * 1024

/** `$CODEX_HOME/config.toml`, else `~/.codex/config.toml` (as Codex reads it). */
export function codexConfigPath(env: Env): string {
  return join(env.CODEX_HOME || join(env.HOME || homedir(), '.codex'), 'config.toml')
}

/** The script Codex's `[otel] headers_helper` runs (an absolute path, no arguments). */
export function codexOtelScriptPath(profile: string, env: Env, platform: Platform): string {
  return join(dataDir(env, platform), 'codex', `otel-headers-${profile}${platform.os === 'win32' ? '.cmd' : ''}`)
}

function otelScript(profile: string, platform: Platform): string {
  const line = `${ccredCommand(platform)} get ${profile} --format headers`
  return platform.os === 'win32'
    ? `@echo off\r\nrem written by ccred setup codex --otel: Codex's [otel] headers_helper runs it with no arguments\r\n${line}\r\n`
    : `#!/bin/sh\n# written by ccred setup codex --otel: Codex's [otel] headers_helper runs it with no arguments\nexec ${line}\n`
}

export interface CodexPlanRequest {
  profile: string
  providerId: string
  baseUrl?: string
  wireApi?: string
  makeDefault: boolean
  mcpServer?: string
  mcpUrl?: string
  /** The script path for [otel] headers_helper, when --otel. */
  otelScriptPath?: string
  refreshIntervalMs: number
  otelRefreshIntervalMs: number
  fix: boolean
  /** ccred as Codex execs it: [program, ...leading args]. */
  argv: readonly string[]
  /** ccred as `sh -c` runs it (the MCP helper string). */
  commandLine: string
}

function table(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

/** The plan for config.toml alone: pure, from the file as read. */
export function planCodexConfig(request: CodexPlanRequest, file: FileSnapshot): { plan: FilePlan<TomlDocument>; warnings: string[] } {
  const doc = tomlFormat.parse(file.text, file.path)
  const provider = table(tomlFormat.get(doc, ['model_providers', request.providerId]))
  const warnings: string[] = []
  const wanted: [SettingKey, unknown][] = []
  const key = (name: string): SettingKey => ['model_providers', request.providerId, name]
  if (provider === undefined) {
    if (request.baseUrl === undefined) {
      throw new CcredError('ERR_USAGE', `${file.path} has no [model_providers.${request.providerId}]; ccred needs its base URL to create it`, {
        hint: `pass the gateway's OpenAI-compatible base URL: ccred setup codex ${request.profile} --base-url https://llm.example.com/v1`,
      })
    }
    wanted.push([key('name'), request.providerId])
  } else if (request.baseUrl === undefined && typeof provider.base_url !== 'string') {
    throw new CcredError('ERR_USAGE', `[model_providers.${request.providerId}] in ${file.path} has no base_url`, { hint: `pass --base-url <url>` })
  }
  if (request.baseUrl !== undefined) wanted.push([key('base_url'), request.baseUrl])
  const wireApi = request.wireApi ?? (typeof provider?.wire_api === 'string' ? provider.wire_api : 'responses')
  wanted.push([key('wire_api'), wireApi])
  const refused = AUTH_EXCLUSIVE_KEYS.filter((name) => provider?.[name] !== undefined && provider[name] !== false)
  if (refused.length > 0 && !request.fix) {
    throw new CcredError('ERR_USAGE', `[model_providers.${request.providerId}] in ${file.path} sets ${refused.join(', ')}, which Codex refuses beside an auth command`, {
      hint: `run again with --fix to remove ${refused.length === 1 ? 'it' : 'them'}, or name another provider with --provider <id>`,
    })
  }
  for (const name of refused) {
    wanted.push([key(name), undefined])
    warnings.push(`removed ${name} from [model_providers.${request.providerId}]: Codex refuses it beside an auth command`)
  }
  const [program, ...leading] = request.argv
  wanted.push([key('auth'), {
    command: program!,
    args: [...leading, 'get', request.profile],
    timeout_ms: CODEX_AUTH_TIMEOUT_MS,
    refresh_interval_ms: request.refreshIntervalMs,
  }])
  if (request.makeDefault) wanted.push([['model_provider'], request.providerId])
  if (request.mcpServer !== undefined) {
    const server = table(tomlFormat.get(doc, ['mcp_servers', request.mcpServer]))
    const helper = `${request.commandLine} get ${request.profile} --format headers`
    if (server === undefined) {
      if (request.mcpUrl === undefined) {
        throw new CcredError('ERR_USAGE', `${file.path} has no [mcp_servers.${request.mcpServer}]`, { hint: `add it first, or pass --mcp-url <url> to create it` })
      }
      wanted.push([['mcp_servers', request.mcpServer], { url: request.mcpUrl, http_headers_helper: helper }])
    } else {
      if (typeof server.url !== 'string' && request.mcpUrl === undefined) {
        throw new CcredError('ERR_USAGE', `[mcp_servers.${request.mcpServer}] in ${file.path} is not an HTTP server (it has no url): Codex runs http_headers_helper only for those`, { hint: 'a stdio server gets its secrets through its own env table' })
      }
      if (request.mcpUrl !== undefined) wanted.push([['mcp_servers', request.mcpServer, 'url'], request.mcpUrl])
      wanted.push([['mcp_servers', request.mcpServer, 'http_headers_helper'], helper])
    }
  }
  if (request.otelScriptPath !== undefined) {
    wanted.push([['otel', 'headers_helper'], request.otelScriptPath])
    wanted.push([['otel', 'headers_helper_refresh_interval_ms'], request.otelRefreshIntervalMs])
  }
  return { plan: planEdit(file, tomlFormat, doc, wanted, { scope: 'user' }), warnings }
}

/** `ccred setup codex`: checks the profile, measures its lifetime, and plans every file. */
export async function prepareCodexSetup(input: CodexSetupInput, ctx: SetupContext): Promise<PreparedCodexSetup> {
  const providerId = input.providerId ?? input.profileName
  if (!PROVIDER_ID.test(providerId)) throw new CcredError('ERR_USAGE', `provider id "${providerId.slice(0, 40)}" must be letters, digits, "_" or "-"`, { hint: 'pass --provider <id>' })
  if (input.mcpServer !== undefined && !SERVER_NAME.test(input.mcpServer)) throw new CcredError('ERR_USAGE', `MCP server name "${input.mcpServer.slice(0, 40)}" must be letters, digits, "_" or "-"`, { hint: 'use the name of its [mcp_servers.<name>] table' })
  const { profile, skewMs } = await withInProcessService(ctx.env, async (service) => ({
    profile: await service.config.profile(input.profileName),
    skewMs: (await service.config.current()).broker.skewMs,
  }))
  if (profile.source.yieldsAwsCredentials()) {
    throw new CcredError('ERR_USAGE', `profile ${profile.name} yields AWS credentials; Codex's auth command takes a bearer token`, { hint: 'use a profile whose source gives a token (static, exec, jwt, vault, gcp, oidc)' })
  }
  // Credentials without an expiry (or a failed fetch) get the 5-minute interval: a re-run is a cache hit.
  const lifetimeMs = await measureLifetime(profile.name, ctx.env, ctx.warn, 'refresh_interval_ms', `setup writes ${FALLBACK_REFRESH_INTERVAL_MS} ms`)
  const refreshIntervalMs = lifetimeMs === undefined ? FALLBACK_REFRESH_INTERVAL_MS : helperTtlFor(lifetimeMs, skewMs)
  const configPath = codexConfigPath(ctx.env)
  const otelScriptPath = input.otel ? codexOtelScriptPath(profile.name, ctx.env, ctx.platform) : undefined
  const file = readForEdit(configPath, { maxBytes: MAX_CODEX_CONFIG_BYTES })
  const { plan, warnings } = planCodexConfig({
    profile: profile.name,
    providerId,
    makeDefault: input.makeDefault,
    refreshIntervalMs,
    otelRefreshIntervalMs: lifetimeMs === undefined ? OTEL_INTERVAL_WITHOUT_EXPIRY_MS : refreshIntervalMs,
    fix: input.fix,
    argv: ccredArgv(ctx.platform),
    commandLine: ccredCommand(ctx.platform),
    ...(input.baseUrl === undefined ? {} : { baseUrl: input.baseUrl }),
    ...(input.wireApi === undefined ? {} : { wireApi: input.wireApi }),
    ...(input.mcpServer === undefined ? {} : { mcpServer: input.mcpServer }),
    ...(input.mcpUrl === undefined ? {} : { mcpUrl: input.mcpUrl }),
    ...(otelScriptPath === undefined ? {} : { otelScriptPath }),
  }, file)
  const plans: FilePlan[] = [plan as FilePlan]
  if (otelScriptPath !== undefined) {
    const script = readForEdit(otelScriptPath, { maxBytes: 64 * 1024 })
    plans.push(planEdit(script, wholeTextFormat, wholeTextFormat.parse(script.text, otelScriptPath), [[['content'], otelScript(profile.name, ctx.platform)]], { scope: 'user', mode: 0o755 }) as FilePlan)
  }
  return { plans, warnings, configPath, refreshIntervalMs }
}

/** Writes a prepared Codex setup (backups and the record in the state directory). */
export function applyCodexSetup(prepared: PreparedCodexSetup, profile: string, env: Env, now: Date): void {
  const [config, ...scripts] = prepared.plans
  // Codex's own directory is made only when missing (0700, as Codex makes it); the script's is ccred's private one.
  if (config!.changes.length > 0) mkdirSync(dirname(config!.file.path), { recursive: true, mode: 0o700 })
  for (const script of scripts) if (script.changes.length > 0) ensurePrivateDir(dirname(script.file.path))
  applyPlans(prepared.plans, profile, setupRecord('codex', env), now)
}
