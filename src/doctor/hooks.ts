import {
  caseClashes, ccredLoginProfileOf, ccredProfileOf, isRemoteMcpServer, MCP_HELPER_SLOW_MS, MCP_HELPER_TIMEOUT_MS, mcpConfigPath, mcpServersOf,
  OTEL_DEBOUNCE_VARIABLE, OTEL_HELPER_TIMEOUT_MS, otlpExporterProblems, parseHeadersOutput, strippedForProjectMcp, type McpScope,
} from '../setup/claude-hooks.js'
import { hookTtlMs } from '../callers/claude-code.js'
import { findOnPath, PORTABLE_CCRED_COMMAND, runsCcredFromPath } from '../setup/helper-command.js'
import { hostPlatform } from '../platform.js'
import { MAX_CLAUDE_JSON_BYTES, readSettings } from '../setup/claude-settings.js'
import { formatDurationMs } from '../config/duration.js'
import type { ProfileConfig } from '../profiles/load.js'
import { toCcredError } from '../errors.js'
import type { Scope, SettingsFile } from '../setup/claude-settings.js'
import type { CredentialFetcher } from '../client/credentials.js'
import { heldBack, mayUse, UNTRUSTED, type WorkspaceTrust } from '../trust/workspace.js'

type Env = Record<string, string | undefined>
type Add = (check: string, verdict: 'ok' | 'warn' | 'fail', detail: string) => void

/** Claude Code's merged settings as doctor reads them (setup/effective-settings.ts). */
export interface ClaudeSettingsView {
  files: SettingsFile[]
  value(key: string): { value: unknown; scope: Scope } | undefined
  env(name: string): { value: string; scope: Scope | 'shell' } | undefined
  /** `base` plus the settings env of every layer the trust allows (doctor.ts effectiveClaudeSettings). */
  helperEnv(base: Env, trust: WorkspaceTrust): Env
}

/** How a helper run went, as Claude Code would see it. */
export interface HelperRun {
  stdout: string
  exitCode: number
  timedOut: boolean
  durationMs: number
}

export interface HookCheckDeps {
  env: Env
  projectDir: string
  /**
   * Runs a helper command as Claude Code does (`sh -c`, stdin never closed) with
   * exactly `env`, killed after `timeoutMs`. Its stdout is parsed, never shown.
   */
  runHookHelper?(command: string, env: Env, timeoutMs: number): Promise<HelperRun>
  /** The profiles of the config (for a helper that runs `ccred get <profile>`). */
  profiles: ReadonlyMap<string, ProfileConfig>
  /** Asks for a profile's credential as a helper would (for a ccred helper's lifetime against the hook's period). */
  fetchCredential?: CredentialFetcher
  /** Whether a daemon answers now (a stripped helper resolves env: references only in a daemon started elsewhere). */
  daemonRunning: boolean
  /** Whether the project's own files may name what is run (`--trust-project`); untrusted when absent. */
  trust?: WorkspaceTrust
  nowMs(): number
}

/**
 * `ccred doctor` for Claude Code's hooks besides apiKeyHelper: every MCP server's
 * headersHelper (user ~/.claude.json, project .mcp.json), otelHeadersHelper, and
 * awsAuthRefresh / gcpAuthRefresh. Each helper is run the way Claude Code runs it
 * (its environment, its timeout) and its output parsed the way Claude Code parses it.
 */
export async function checkHooks(claude: ClaudeSettingsView, deps: HookCheckDeps, add: Add): Promise<void> {
  for (const scope of ['user', 'project'] as const) await checkMcpServers(scope, deps, add)
  await checkOtelHelper(claude, deps, add)
  for (const key of ['awsAuthRefresh', 'gcpAuthRefresh'] as const) checkAuthRefresh(key, claude, deps, add)
}

async function checkMcpServers(scope: McpScope, deps: HookCheckDeps, add: Add): Promise<void> {
  const path = mcpConfigPath(scope, deps.env, deps.projectDir)
  let servers
  try {
    servers = mcpServersOf(readSettings({ scope, path }, MAX_CLAUDE_JSON_BYTES).settings)
  } catch (error) {
    add(`mcp ${scope} config`, 'fail', `${toCcredError(error).message}: Claude Code cannot read its MCP servers either`)
    return
  }
  for (const [name, server] of servers) {
    if (typeof server.headersHelper !== 'string') continue
    const check = `mcp ${name} headersHelper`
    if (!isRemoteMcpServer(server)) {
      add(check, 'warn', `${path}: the server is not "type": "http" or "sse" with a "url"; Claude Code runs headersHelper only for remote servers`)
      continue
    }
    if (runsCcredFromPath(server.headersHelper) && findOnPath(PORTABLE_CCRED_COMMAND, deps.env, hostPlatform(deps.env)) === undefined) {
      add(check, 'fail', `${path}: runs ccred from PATH, and there is none on this PATH: install ccred globally (npm install -g ccred)`)
      continue
    }
    if (!mayUse(scope, deps.trust ?? UNTRUSTED)) {
      add(check, 'warn', heldBack(`not run: ${JSON.stringify(server.headersHelper.slice(0, 80))}`, path))
      const profileName = ccredProfileOf(server.headersHelper)
      if (profileName !== undefined) checkStrippedProfile(name, profileName, deps, add)
      continue
    }
    // A project server's helper gets no credential-looking variables (docs/agents-facts.md#mcp-server-headershelper-remote-servers-type-http).
    const env: Env = { ...(scope === 'project' ? stripped(deps.env) : deps.env), CLAUDE_CODE_MCP_SERVER_NAME: name, CLAUDE_CODE_MCP_SERVER_URL: server.url }
    const parsed = await runAndParse(server.headersHelper, env, MCP_HELPER_TIMEOUT_MS, deps, check, add)
    if (parsed === undefined) continue
    const names = Object.keys(parsed.headers)
    const slow = parsed.durationMs >= MCP_HELPER_SLOW_MS
    add(check, slow ? 'warn' : 'ok', `${scope === 'project' ? `${path} (project; run without credential-looking variables)` : `${path} (user)`}: prints ${names.length} header(s) (${names.join(', ') || 'none'}) in ${parsed.durationMs} ms${slow ? `; claude -p does not wait for it: at ${formatDurationMs(MCP_HELPER_SLOW_MS)} or more the first request goes without the server's tools (keep the daemon running: ccred daemon install)` : ''}`)
    for (const clash of caseClashes(names, server.headers)) {
      add(`mcp ${name} header case`, 'warn', `static header "${clash.static}" and the helper's "${clash.helper}" differ only in case: Claude Code sends both; spell them the same so the helper's value wins`)
    }
    const profileName = ccredProfileOf(server.headersHelper)
    if (scope === 'project' && profileName !== undefined) checkStrippedProfile(name, profileName, deps, add)
  }
}

/** A ccred profile behind a project server's helper: an env: reference the helper will not have. */
function checkStrippedProfile(server: string, profileName: string, deps: HookCheckDeps, add: Add): void {
  const profile = deps.profiles.get(profileName)
  if (profile === undefined) return
  const names = profile.source.references().filter((ref) => ref.kind === 'env').map((ref) => ref.target)
  const missing = names.filter(strippedForProjectMcp)
  if (missing.length === 0) return
  const listed = missing.map((name) => `env:${name}`).join(', ')
  if (deps.daemonRunning) {
    add(`mcp ${server} environment`, 'warn', `profile ${profileName} reads ${listed}, which Claude Code removes from a project server's helper: it works while the daemon started from a shell that has it runs; a daemon the helper starts will not have it (store it: ccred set ${profileName})`)
  } else {
    add(`mcp ${server} environment`, 'fail', `profile ${profileName} reads ${listed}, which Claude Code removes from a project server's helper, and no daemon was running: a helper that starts one resolves it without the variable and fails (start the daemon from your shell, or store the secret: ccred set ${profileName})`)
  }
}

async function checkOtelHelper(claude: ClaudeSettingsView, deps: HookCheckDeps, add: Add): Promise<void> {
  const helper = claude.value('otelHeadersHelper')
  if (helper === undefined) return
  if (typeof helper.value !== 'string') {
    add('claude otelHeadersHelper', 'fail', `${helper.scope} settings: not a string command`)
    return
  }
  const setting = (name: string) => claude.env(name)?.value
  for (const problem of otlpExporterProblems(setting)) add('claude otel exporter', 'warn', `${problem}; otelHeadersHelper never runs without it`)
  const trust = deps.trust ?? UNTRUSTED
  if (!mayUse(helper.scope, trust)) {
    add('claude otelHeadersHelper', 'warn', heldBack(`not run: ${JSON.stringify(helper.value.slice(0, 80))}`, settingsSource(claude, helper.scope)))
    return
  }
  // Claude Code gives it every OTEL_* variable and its settings env (a project's only when trusted).
  const env: Env = claude.helperEnv(deps.env, trust)
  const parsed = await runAndParse(helper.value, env, OTEL_HELPER_TIMEOUT_MS, deps, 'claude otelHeadersHelper', add)
  if (parsed === undefined) return
  add('claude otelHeadersHelper', 'ok', `${helper.scope} settings: prints ${Object.keys(parsed.headers).length} header(s) (${Object.keys(parsed.headers).join(', ')}) in ${parsed.durationMs} ms`)
  const debounceMs = hookTtlMs('otelHeadersHelper', env)
  const debounceFrom = setting(OTEL_DEBOUNCE_VARIABLE) === undefined ? "Claude Code's default" : OTEL_DEBOUNCE_VARIABLE
  const expiries = Object.values(parsed.headers).map(jwtExpiryMs).filter((ms): ms is number => ms !== undefined)
  const profileName = ccredProfileOf(helper.value)
  if (profileName !== undefined && deps.fetchCredential !== undefined) {
    // A ccred helper: what the daemon serves an otel run (a value for the debounce + skew), opaque tokens too.
    try {
      const issued = await deps.fetchCredential({ profile: profileName, callerTtlMs: debounceMs, headerSet: true }, env, () => {})
      if (issued.expiresAt !== undefined) expiries.push(Date.parse(issued.expiresAt))
    } catch {
      // The run above already said whether the helper works.
    }
  }
  if (expiries.length === 0) return
  const leftMs = Math.min(...expiries) - deps.nowMs()
  add('claude otelHeadersHelper lifetime', leftMs >= debounceMs ? 'ok' : 'fail', leftMs >= debounceMs
    ? `the token outlives the debounce ${formatDurationMs(debounceMs)} (${debounceFrom})`
    : `the token expires in ${formatDurationMs(Math.max(0, leftMs))}, but Claude Code reuses otel headers for ${formatDurationMs(debounceMs)} (${debounceFrom}): exports would be refused; set ${OTEL_DEBOUNCE_VARIABLE} below the token's lifetime (ccred setup claude --otel <profile> does)`)
}

function checkAuthRefresh(key: 'awsAuthRefresh' | 'gcpAuthRefresh', claude: ClaudeSettingsView, deps: HookCheckDeps, add: Add): void {
  const found = claude.value(key)
  if (found === undefined || typeof found.value !== 'string') return
  const profileName = ccredLoginProfileOf(found.value)
  if (profileName === undefined) {
    add(`claude ${key}`, 'ok', `${JSON.stringify(found.value.slice(0, 80))} from ${found.scope} settings (not ccred)`)
    return
  }
  const profile = deps.profiles.get(profileName)
  if (profile === undefined) add(`claude ${key}`, 'fail', `runs ccred login ${profileName}, but there is no such profile`)
  else if (profile.source.loginTarget() === undefined) add(`claude ${key}`, 'fail', `runs ccred login ${profileName}, a ${profile.sourceKind} profile: only a profile with a sign-in (oidc) has one to refresh`)
  else add(`claude ${key}`, 'ok', `runs ccred login ${profileName} (${found.scope} settings) when Claude Code's cloud credentials are missing or expired`)
}

/** "project settings /repo/.claude/settings.json": where a value came from, for a held-back line. */
export function settingsSource(claude: ClaudeSettingsView, scope: Scope | 'shell'): string {
  const path = claude.files.find((file) => file.scope === scope)?.path
  return path === undefined ? `${scope} settings` : `${scope} settings ${path}`
}

/** Runs a header helper and parses it as Claude Code does; reports a failure and returns undefined. */
async function runAndParse(command: string, env: Env, timeoutMs: number, deps: HookCheckDeps, check: string, add: Add): Promise<{ headers: Record<string, string>; durationMs: number } | undefined> {
  let run: HelperRun
  try {
    run = await (deps.runHookHelper ?? runHookHelper)(command, env, timeoutMs)
  } catch (error) {
    add(check, 'fail', `cannot run ${JSON.stringify(command.slice(0, 80))}: ${toCcredError(error).message}`)
    return undefined
  }
  if (run.timedOut) {
    add(check, 'fail', `did not finish within ${formatDurationMs(timeoutMs)}, Claude Code's limit: no headers are sent`)
    return undefined
  }
  if (run.exitCode !== 0) {
    add(check, 'fail', `exited with status ${run.exitCode}: Claude Code rejects the output (even valid JSON) and sends no headers`)
    return undefined
  }
  const parsed = parseHeadersOutput(run.stdout)
  if ('problem' in parsed) {
    add(check, 'fail', `${parsed.problem}: Claude Code rejects it as a whole and sends no headers`)
    return undefined
  }
  return { headers: parsed.headers, durationMs: run.durationMs }
}

/** Runs `sh -c command` as Claude Code does: stdin an open pipe that never ends, killed at the timeout. */
export async function runHookHelper(command: string, env: Env, timeoutMs: number): Promise<HelperRun> {
  return runHelperProgram('/bin/sh', ['-c', command], env, timeoutMs, 'open')
}

/**
 * Runs a helper program the way an agent does: `stdin` 'open' as Claude Code leaves it
 * (a pipe that never ends), 'null' as Codex gives it (/dev/null); stderr dropped (it may
 * quote a secret); stdout kept (up to 1 MiB) for parsing, never shown; killed after `timeoutMs`.
 */
export async function runHelperProgram(program: string, args: readonly string[], env: Env, timeoutMs: number, stdin: 'open' | 'null'): Promise<HelperRun> {
  const { spawn } = await import('node:child_process')
  const startedAtMs = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: env as NodeJS.ProcessEnv, stdio: [stdin === 'open' ? 'pipe' : 'ignore', 'pipe', 'ignore'] })
    const chunks: Buffer[] = []
    let size = 0
    let timedOut = false
    child.stdout!.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= 1024 * 1024) chunks.push(chunk)
    })
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGTERM')
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      child.stdin?.destroy()
      resolve({ stdout: Buffer.concat(chunks).toString('utf8'), exitCode: code ?? -1, timedOut, durationMs: Date.now() - startedAtMs })
    })
  })
}

function stripped(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !strippedForProjectMcp(name)))
}

/** A header value's JWT expiry (a Bearer token or a bare JWT), or undefined. */
function jwtExpiryMs(value: string): number | undefined {
  const token = value.replace(/^Bearer\s+/i, '')
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  try {
    const exp = (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown }).exp
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}
