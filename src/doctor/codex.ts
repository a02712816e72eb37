import { basename, dirname } from 'node:path'
import { safeHelperTtlMs } from '../broker/budget.js'
import type { CredentialFetcher } from '../client/credentials.js'
import { issuedLifetimeMs } from '../client/lifetime.js'
import { formatDurationMs } from '../config/duration.js'
import { toCcredError } from '../errors.js'
import { parseHeadersOutput } from '../setup/claude-hooks.js'
import { findOnPath } from '../setup/helper-command.js'
import { readForEdit } from '../setup/settings-file.js'
import { AUTH_EXCLUSIVE_KEYS, codexConfigPath, codexOtelScriptPath } from '../setup/setup-codex.js'
import { tomlFormat } from '../setup/toml-format.js'
import { hostPlatform, type Platform } from '../platform.js'
import { runHelperProgram, type HelperRun } from './hooks.js'
import type { HookUse } from './hook-profiles.js'

type Env = Record<string, string | undefined>
type Add = (check: string, verdict: 'ok' | 'warn' | 'fail', detail: string) => void

/**
 * `ccred doctor` for Codex: reads ~/.codex/config.toml ($CODEX_HOME) and checks every hook
 * that runs ccred the way Codex runs it (docs/agents-facts.md#1-openai-codex-cli-01710):
 * a provider's `auth` exec'd without a shell (stdin /dev/null, the full environment, its
 * stdout one line sent as the bearer), an MCP server's `http_headers_helper` through `sh -c`
 * with Codex's allow-listed environment, the OTel `headers_helper` exec'd with no arguments;
 * the refresh intervals against the profile's lifetime; the keys Codex refuses beside `auth`.
 */
export interface CodexCheckDeps {
  env: Env
  platform?: Platform
  fetchCredential: CredentialFetcher
  skewMs: number
  nowMs(): number
  /** Runs a helper program as Codex would (tests pass their own). */
  runHelper?(program: string, args: readonly string[], env: Env, timeoutMs: number): Promise<HelperRun>
}

/** Codex's own default for a provider auth command, and its fixed MCP helper limit. */
const CODEX_AUTH_DEFAULT_TIMEOUT_MS = 5_000
const CODEX_MCP_HELPER_TIMEOUT_MS = 10_000
/** What Codex passes to an MCP headers helper (measured): nothing else, no XDG_RUNTIME_DIR. */
const CODEX_MCP_ENV_ALLOW_LIST = ['HOME', 'PATH', 'SHELL', 'LANG', 'TERM', 'PWD', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS']
const MAX_CODEX_CONFIG_BYTES = 4 * 1024 * 1024

function table(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

/** The profile an argv of ccred asks for (`… get <profile> …`), if the argv is ccred's. */
export function ccredProfileInArgv(argv: readonly string[]): string | undefined {
  const isCcred = argv.some((part) => /^ccred(\.cjs|\.exe|\.cmd)?$/i.test(basename(part)))
  if (!isCcred) return undefined
  const at = argv.indexOf('get')
  return at >= 0 ? argv[at + 1] : undefined
}

/** A helper script's text, to find which profile it asks for ('' when it cannot be read). */
function readScript(path: string): string {
  try {
    return readForEdit(path, { maxBytes: 64 * 1024 }).text
  } catch {
    return ''
  }
}

/** The profile a shell string of ccred asks for. */
function ccredProfileInLine(line: string): string | undefined {
  const match = /(?:^|[\s/'"\\])ccred(?:\.cjs|\.exe|\.cmd)?['"]?\s+get\s+'?([\w.-]+)/.exec(line)
  return match?.[1]
}

/**
 * The profiles Codex's hooks name (for hook-profiles.ts): each provider's auth argv, each
 * MCP server's http_headers_helper, ccred's own OTel script. Their periods are checked by
 * checkCodex's own lines, so they carry no TTL. None when there is no readable config.
 */
export function codexHookProfiles(env: Env, platform?: Platform): HookUse[] {
  let values: Record<string, unknown>
  try {
    const path = codexConfigPath(env)
    const file = readForEdit(path, { maxBytes: MAX_CODEX_CONFIG_BYTES })
    if (!file.exists) return []
    values = tomlFormat.parse(file.text, path).values
  } catch {
    return [] // checkCodex says why
  }
  const uses: HookUse[] = []
  for (const [id, value] of Object.entries(table(values.model_providers) ?? {})) {
    const auth = table(table(value)?.auth)
    const command = auth?.command
    if (typeof command !== 'string') continue
    const args = Array.isArray(auth!.args) ? auth!.args.filter((a): a is string => typeof a === 'string') : []
    const profile = ccredProfileInArgv([command, ...args]) ?? ccredProfileInLine(command)
    if (profile !== undefined) uses.push({ profile, hook: `codex provider ${id}` })
  }
  for (const [name, value] of Object.entries(table(values.mcp_servers) ?? {})) {
    const helper = table(value)?.http_headers_helper
    const profile = typeof helper === 'string' ? ccredProfileInLine(helper) : undefined
    if (profile !== undefined) uses.push({ profile, hook: `codex mcp ${name}` })
  }
  const helper = table(values.otel)?.headers_helper
  if (typeof helper === 'string' && dirname(helper) === dirname(codexOtelScriptPath('x', env, platform ?? hostPlatform(env)))) {
    const profile = ccredProfileInLine(readScript(helper))
    if (profile !== undefined) uses.push({ profile, hook: 'codex otel' })
  }
  return uses
}

export async function checkCodex(deps: CodexCheckDeps, add: Add): Promise<void> {
  const path = codexConfigPath(deps.env)
  let values: Record<string, unknown>
  try {
    const file = readForEdit(path, { maxBytes: MAX_CODEX_CONFIG_BYTES })
    if (!file.exists) return
    values = tomlFormat.parse(file.text, path).values
  } catch (error) {
    const failure = toCcredError(error)
    add('codex config', 'fail', `${failure.message} — ${failure.hint ?? ''}`)
    return
  }
  const run = deps.runHelper ?? ((program, args, env, timeoutMs) => runHelperProgram(program, args, env, timeoutMs, 'null'))
  let found = 0
  for (const [id, value] of Object.entries(table(values.model_providers) ?? {})) {
    const provider = table(value)
    const auth = table(provider?.auth)
    if (provider === undefined || auth === undefined) continue
    const command = auth.command
    const args = Array.isArray(auth.args) ? auth.args.filter((a): a is string => typeof a === 'string') : []
    const argv = typeof command === 'string' ? [command, ...args] : []
    const profile = ccredProfileInArgv(argv) ?? (typeof command === 'string' ? ccredProfileInLine(command) : undefined)
    if (profile === undefined) continue
    found++
    await checkProvider(id, provider, auth, argv, profile, deps, run, path, add)
  }
  for (const [name, value] of Object.entries(table(values.mcp_servers) ?? {})) {
    const helper = table(value)?.http_headers_helper
    if (typeof helper !== 'string') continue
    const profile = ccredProfileInLine(helper)
    if (profile === undefined) continue
    found++
    const env: Env = Object.fromEntries(CODEX_MCP_ENV_ALLOW_LIST.filter((n) => deps.env[n] !== undefined).map((n) => [n, deps.env[n]]))
    await checkHeadersHelper(`codex mcp ${name}`, '/bin/sh', ['-c', helper], env, CODEX_MCP_HELPER_TIMEOUT_MS, 'through sh -c with Codex\'s allow-listed environment (no XDG_RUNTIME_DIR)', run, add)
  }
  const otel = table(values.otel)
  if (typeof otel?.headers_helper === 'string') {
    const helper = otel.headers_helper
    const interval = otel.headers_helper_refresh_interval_ms
    // ccred's own script (setup codex --otel) or ccred itself.
    const ours = dirname(helper) === dirname(codexOtelScriptPath('x', deps.env, deps.platform ?? hostPlatform(deps.env))) || /ccred/.test(basename(helper))
    if (ours) {
      found++
      await checkHeadersHelper('codex otel', helper, [], deps.env, CODEX_MCP_HELPER_TIMEOUT_MS, 'exec\'d with no arguments', run, add)
      if (typeof interval !== 'number' || interval <= 0) add('codex otel interval', 'fail', `[otel] headers_helper_refresh_interval_ms must be a positive number (Codex refuses the helper otherwise); run: ccred setup codex <profile> --otel`)
      else {
        const profile = ccredProfileInLine(readScript(helper))
        if (profile !== undefined) await checkInterval('codex otel', 'headers_helper_refresh_interval_ms', interval, profile, deps, add)
      }
    }
  }
  if (found > 0) add('codex config', 'ok', `${path}: ${found} hook(s) run ccred`)
}

async function checkProvider(id: string, provider: Record<string, unknown>, auth: Record<string, unknown>, argv: string[], profile: string, deps: CodexCheckDeps, run: NonNullable<CodexCheckDeps['runHelper']>, path: string, add: Add): Promise<void> {
  const name = `codex provider ${id}`
  const refused = AUTH_EXCLUSIVE_KEYS.filter((key) => provider[key] !== undefined && provider[key] !== false)
  if (refused.length > 0) add(name, 'fail', `sets ${refused.join(', ')} beside auth: Codex refuses to load ${path} ("provider auth cannot be combined with ${refused[0]}") — run: ccred setup codex ${profile} --provider ${id} --fix`)
  const [program, ...args] = argv
  if (program === undefined) return
  if (/\s/.test(program) && args.length === 0 && findOnPath(program, deps.env, deps.platform ?? hostPlatform(deps.env)) === undefined) {
    add(name, 'fail', `auth.command is "${program.slice(0, 80)}": Codex runs it without a shell, so a command line in one string fails to start — use command = "<ccred>", args = ["get", "${profile}"] (ccred setup codex ${profile} writes it)`)
    return
  }
  const timeoutMs = typeof auth.timeout_ms === 'number' ? auth.timeout_ms : CODEX_AUTH_DEFAULT_TIMEOUT_MS
  let result: HelperRun
  try {
    result = await run(program, args, deps.env, timeoutMs)
  } catch (error) {
    add(name, 'fail', `auth.command ${program} cannot be started (${(error as NodeJS.ErrnoException).code ?? toCcredError(error).message}) — run: ccred setup codex ${profile} --provider ${id}`)
    return
  }
  const lines = result.stdout.trim().split('\n')
  const problem = result.timedOut ? `timed out after ${timeoutMs} ms (Codex then sends the request without credentials)`
    : result.exitCode !== 0 ? `exited ${result.exitCode} (Codex sends the request without credentials; run ccred get ${profile} to see why)`
    : result.stdout.trim() === '' ? 'printed nothing (Codex sends the request without credentials)'
    : lines.length > 1 ? 'printed more than one line (Codex then sends no Authorization at all)'
    : /^bearer\s/i.test(lines[0]!) ? 'printed "Bearer …" (Codex adds its own "Bearer ", so the gateway gets "Bearer Bearer …")'
    : undefined
  add(name, problem === undefined ? 'ok' : 'fail', problem === undefined ? `auth runs ccred get ${profile} without a shell: one line in ${result.durationMs} ms (timeout_ms ${timeoutMs})` : `auth ${problem}`)
  if (problem === undefined && timeoutMs < 2_000) add(`${name} timeout`, 'warn', `timeout_ms = ${timeoutMs}: a first ccred get starts the daemon and may take longer; 10000 is safe`)
  await checkInterval(name, 'refresh_interval_ms', auth.refresh_interval_ms, profile, deps, add)
}

/** Codex keeps a provider token for refresh_interval_ms: it must stay valid that long plus the skew. */
async function checkInterval(name: string, key: string, interval: unknown, profile: string, deps: CodexCheckDeps, add: Add): Promise<void> {
  if (interval !== undefined && (typeof interval !== 'number' || interval < 0)) {
    add(`${name} ${key}`, 'fail', `${key} must be a number of milliseconds, not ${JSON.stringify(interval).slice(0, 40)}`)
    return
  }
  let expiresAt: string | undefined
  try {
    expiresAt = (await deps.fetchCredential({ profile, callerTtlMs: 0 }, deps.env, () => {})).expiresAt
  } catch {
    return // the helper's own check above says why
  }
  if (expiresAt === undefined) return
  const lifetimeMs = await issuedLifetimeMs(profile, expiresAt, deps.env, deps.nowMs())
  const safeMs = safeHelperTtlMs(lifetimeMs, deps.skewMs)
  if (interval === undefined || interval === 0) {
    add(`${name} ${key}`, 'warn', `not set or 0: Codex never refreshes ahead, so the first request after the credentials expire (they live ${formatDurationMs(lifetimeMs)}) fails once and is retried after a re-run; set ${key} = ${safeMs} (ccred setup codex ${profile} writes it)`)
  } else if (interval > safeMs) {
    add(`${name} ${key}`, 'fail', `${key} = ${interval} exceeds the largest safe interval ${safeMs} for credentials that live ${formatDurationMs(lifetimeMs)} (skew ${formatDurationMs(deps.skewMs)}): set ${key} = ${safeMs} (ccred setup codex ${profile} writes it)`)
  } else {
    add(`${name} ${key}`, 'ok', `${key} = ${interval} is within the largest safe interval ${safeMs} (credentials live ${formatDurationMs(lifetimeMs)})`)
  }
}

async function checkHeadersHelper(name: string, program: string, args: string[], env: Env, timeoutMs: number, how: string, run: NonNullable<CodexCheckDeps['runHelper']>, add: Add): Promise<void> {
  let result: HelperRun
  try {
    result = await run(program, args, env, timeoutMs)
  } catch (error) {
    add(name, 'fail', `${program} cannot be started (${(error as NodeJS.ErrnoException).code ?? toCcredError(error).message})`)
    return
  }
  if (result.timedOut || result.exitCode !== 0) {
    add(name, 'fail', `the headers helper ${result.timedOut ? `timed out after ${timeoutMs} ms` : `exited ${result.exitCode}`} when run ${how}; Codex then sends no headers from it`)
    return
  }
  const parsed = parseHeadersOutput(result.stdout)
  if ('problem' in parsed) add(name, 'fail', `headers helper run ${how}: ${parsed.problem}`)
  else add(name, 'ok', `headers helper run ${how}: ${Object.keys(parsed.headers).join(', ')} in ${result.durationMs} ms`)
}
