import { existsSync, readFileSync } from 'node:fs'
import { safeHelperTtlMs } from '../broker/budget.js'
import { daemonHealth } from '../client/autostart.js'
import { issuedLifetimeMs } from '../client/lifetime.js'
import type { CredentialFetcher } from '../client/credentials.js'
import { withInProcessService } from '../client/in-process.js'
import { formatDurationMs } from '../config/duration.js'
import type { LoadedConfig, ProfileConfig } from '../profiles/load.js'
import { runtimeDir } from '../config/paths.js'
import { checkPrivateDir } from '../rendezvous/runtime-dir.js'
import { helperTtlVariable, parseHelperTtlMs, setupHookFor } from '../callers/claude-code.js'
import { findOnPath, helperCommandPrograms, PORTABLE_CCRED_COMMAND, rerunSetupCommand, runsCcredFromPath, unstableNodeManager } from '../setup/helper-command.js'
import { readClaudeGatewayLogin } from '../setup/gateway-login.js'
import { MAX_CLAUDE_JSON_BYTES, readSettings } from '../setup/claude-settings.js'
import { readClaudeWorkspaceTrust } from '../setup/claude-trust.js'
import { loginService } from '../setup/service-install.js'
import type { Scope, SettingsFile } from '../setup/claude-settings.js'
import { effectiveClaudeSettings, type EffectiveClaudeSettings } from '../setup/effective-settings.js'
import { COMPETING_VARIABLES } from '../setup/claude-setup.js'
import { toCcredError } from '../errors.js'
import { credentialText } from '../output/format.js'
import { proxyFor, type ProbeResult, type ProbeRoute } from './gateway-probe.js'
import { checkCodex, codexHookProfiles } from './codex.js'
import { hookProfileUses, longestTtlUse, type HookUse } from './hook-profiles.js'
import { mcpConfigPath, mcpServersOf, type McpScope, type McpServerEntry } from '../setup/claude-hooks.js'
import { checkHooks, runHookHelper, settingsSource, type HookCheckDeps } from './hooks.js'
import { packageVersion } from '../version.js'
import { hostPlatform, type Platform } from '../platform.js'
import { heldBack, isWorkspaceScope, mayUse, TRUST_PROJECT_FLAG, UNTRUSTED, type WorkspaceTrust } from '../trust/workspace.js'

/** Claude Code's own limit for a proxyAuthHelper run. */
const PROXY_HELPER_TIMEOUT_MS = 30_000

/** 'info' is a fact that never fails the run (a profile no hook uses). */
export type Verdict = 'ok' | 'info' | 'warn' | 'fail'
type Add = (check: string, verdict: Verdict, detail: string) => void

export interface Check {
  check: string
  verdict: Verdict
  detail: string
}

export interface DoctorDeps {
  env: Record<string, string | undefined>
  /** Whose rules: settings locations, the runtime directory (the real platform when absent). */
  platform?: Platform
  projectDir: string
  fetchCredential: CredentialFetcher
  /** Probes the gateway the way Claude Code reaches it (through its proxy, with the proxyAuthHelper value). */
  probeGateway(url: string, route: ProbeRoute): Promise<ProbeResult>
  /** Runs a helper (a header hook's, the proxyAuthHelper) with exactly this environment (tests); default: sh -c with an open stdin. */
  runHookHelper?: HookCheckDeps['runHookHelper']
  /**
   * Whether the user trusts the project's own settings for this run (`--trust-project`):
   * without it, nothing they name is run or sent a credential (src/trust/workspace.ts).
   */
  trust?: WorkspaceTrust
  nowMs(): number
}

type Env = Record<string, string | undefined>

/**
 * `ccred doctor`: everything that decides whether Claude Code gets a working
 * credential, each with a verdict. Never prints a secret: a credential is shown
 * as its kind, length, expiry and (for a JWT) a claims summary.
 */
export async function runDoctorChecks(profileName: string | undefined, deps: DoctorDeps): Promise<Check[]> {
  const checks: Check[] = []
  const add = (check: string, verdict: Verdict, detail: string) => checks.push({ check, verdict, detail })

  const platform = deps.platform ?? hostPlatform(deps.env)
  // The user's consent: --trust-project for this run, or Claude Code's own trust dialog accepted for the folder.
  const claudeTrust = readClaudeWorkspaceTrust(deps.env, deps.projectDir)
  const trust: WorkspaceTrust = deps.trust?.trusted === true ? deps.trust : claudeTrust.trusted ? { trusted: true, by: 'claude-code' } : UNTRUSTED
  const dir = runtimeDir(deps.env, platform)
  const dirProblem = checkPrivateDir(dir, platform.os)
  add('socket directory', dirProblem === undefined ? 'ok' : 'fail', dirProblem === undefined ? (platform.os === 'win32' ? `${dir} ${existsSync(dir) ? 'exists' : 'does not exist yet; ccred creates it'}; its ACL (inherited from your profile) is not checked on Windows` : `${dir} ${existsSync(dir) ? 'is private (0700, yours)' : 'does not exist yet; ccred creates it 0700'}; no other user can change a directory above it`) : `${dirProblem.message} — ${dirProblem.hint ?? ''}`)

  let daemonRunning = false
  try {
    const info = await daemonHealth(deps.env)
    daemonRunning = info !== undefined
    if (info === undefined) add('daemon', 'ok', 'not running; the next ccred get starts it')
    else if (info.version !== packageVersion()) add('daemon', 'warn', `running version ${info.version} (pid ${info.pid}), this ccred is ${packageVersion()}: run ccred daemon stop so the next get starts the new one`)
    else add('daemon', 'ok', `running, version ${info.version}, pid ${info.pid}`)
  } catch (error) {
    // An unsafe directory was never asked (the check above says why); anything else did not answer.
    add('daemon', 'fail', dirProblem === undefined ? `does not answer: ${toCcredError(error).message}; run: ccred daemon stop` : 'not asked: the socket directory is unsafe (see above)')
  }

  // Strict for what a hook names (or the profile asked for); the rest is information.
  const claude = effectiveClaudeSettings(deps.env, deps.projectDir, deps.platform)
  const hookUses = hookProfileUses({ claude, mcpServers: mcpServersByScope(deps.env, deps.projectDir), codex: codexHookProfiles(deps.env, deps.platform) })
  const usesOf = (name: string) => hookUses.filter((use) => use.profile === name)
  const isStrict = (name: string) => profileName !== undefined || usesOf(name).length > 0

  const loaded = await withInProcessService(deps.env, async (service) => {
    let config: LoadedConfig
    try {
      config = await service.config.current()
    } catch (error) {
      const failure = toCcredError(error)
      add('config', 'fail', `${failure.message} — ${failure.hint ?? ''}`)
      return undefined
    }
    add('config', config.invalidProfiles.size === 0 ? 'ok' : 'fail', `${config.fromFile ? config.path : 'no config file: the embedded demo profile'}; ${config.profiles.size} valid profile(s)${config.invalidProfiles.size === 0 ? '' : `, invalid: ${[...config.invalidProfiles.keys()].join(', ')}`}`)
    for (const [name, error] of config.invalidProfiles) if (profileName === undefined || profileName === name) add(`profile ${name}`, 'fail', error.message)
    const store = service.runtime.store()
    try {
      await store.get('ccred-doctor-probe')
      const availability = store.availability?.()
      // Served, but by the fallback binding: worth a warning with the fix for keytar.
      const degraded = availability !== undefined && availability.hint !== undefined
      add('secret store', degraded ? 'warn' : 'ok', `${store.describe()}${availability === undefined ? '' : ` ${availability.detail}`}${degraded ? ` — ${availability.hint}` : ''}`)
    } catch (error) {
      const failure = toCcredError(error)
      // A failure when a profile checked strictly needs it; a profile no hook uses makes it a warning.
      const readers = [...config.profiles.values()].filter((p) => p.source.storedSecretName() !== undefined)
      const needed = readers.some((p) => isStrict(p.name))
      const because = needed ? ' (a profile reads keychain: references)' : readers.length > 0 ? ` (${readers.map((p) => p.name).join(', ')} read keychain: references; no hook uses them)` : ''
      add('secret store', needed ? 'fail' : 'warn', `${failure.message}${because} — ${failure.hint ?? ''}`)
    }
    checkServiceEnvironment(config, platform, add)
    // What a source checks for itself (Vault: what an operator checks by hand: status, token lookup, capabilities).
    for (const profile of config.profiles.values()) {
      if (profileName !== undefined && profile.name !== profileName) continue
      for (const found of await profile.source.doctorChecks(service.runtime.sourceDeps())) {
        add(`${profile.sourceKind} ${profile.name} ${found.name}`, found.ok ? 'ok' : isStrict(profile.name) ? 'fail' : 'info', `${found.detail}${found.hint === undefined ? '' : ` — ${found.hint}`}${found.ok || isStrict(profile.name) ? '' : ' (no hook uses this profile)'}`)
      }
    }
    return { config }
  })

  const skewMs = loaded?.config.broker.skewMs ?? 60_000
  const profiles = loaded === undefined ? [] : [...loaded.config.profiles.values()].filter((p) => profileName === undefined || p.name === profileName)
  if (loaded !== undefined && profileName !== undefined && profiles.length === 0 && !loaded.config.invalidProfiles.has(profileName)) {
    add(`profile ${profileName}`, 'fail', `no such profile (known: ${[...loaded.config.profiles.keys()].join(', ') || 'none'})`)
  }
  for (const profile of profiles) {
    if (isStrict(profile.name)) await checkProfile(profile, usesOf(profile.name), claude, skewMs, deps, add)
    else await describeUnusedProfile(profile, deps, add)
  }

  checkClaudeSettings(claude, deps.env, add)
  checkClaudeGatewayLogin(claude, deps, add)
  await checkHooks(claude, {
    env: deps.env,
    projectDir: deps.projectDir,
    profiles: loaded?.config.profiles ?? new Map(),
    daemonRunning,
    trust,
    claudeTrust,
    nowMs: deps.nowMs,
    fetchCredential: deps.fetchCredential,
    ...(deps.runHookHelper === undefined ? {} : { runHookHelper: deps.runHookHelper }),
  }, add)
  await checkGateway(claude, deps, trust, add)
  await checkCodex({
    env: deps.env,
    ...(deps.platform === undefined ? {} : { platform: deps.platform }),
    fetchCredential: deps.fetchCredential,
    skewMs,
    nowMs: deps.nowMs,
  }, add)
  return checks
}

/**
 * A profile checked strictly: fetched as its hooks fetch it, its lifetime against the
 * longest TTL among them (or, for a profile named on the command line that no hook
 * names, the TTL of the hook `ccred setup claude` would make of it).
 */
async function checkProfile(profile: ProfileConfig, uses: readonly HookUse[], claude: EffectiveClaudeSettings, skewMs: number, deps: DoctorDeps, add: Add): Promise<void> {
  const strictest = longestTtlUse(uses)
  // `ccred setup claude` makes a proxy-authorization profile Claude Code's proxyAuthHelper.
  const setupVariable = helperTtlVariable(setupHookFor(profile.header))!
  const setupTtl = claude.env(setupVariable)
  const ttl = strictest?.ttl ?? { ms: parseHelperTtlMs(setupTtl?.value), from: setupTtl === undefined ? "Claude Code's default" : `${setupVariable} from ${setupTtl.scope}`, variable: setupVariable }
  const usedBy = uses.length === 0 ? '' : `; used by ${[...new Set(uses.map((use) => use.hook))].join(', ')}`
  try {
    // Hooks with a period of their own (otel, Codex) are fetched for as their own lines fetch.
    const callerTtlMs = uses.length > 0 && strictest === undefined ? 0 : ttl.ms
    const issued = await deps.fetchCredential({ profile: profile.name, callerTtlMs }, deps.env, () => {})
    const expiresIn = issued.expiresAt === undefined ? 'never expires' : `expires in ${formatDurationMs(Date.parse(issued.expiresAt) - deps.nowMs())}`
    add(`profile ${profile.name}`, 'ok', `${profile.sourceKind}: ${await describeCredential(credentialText(issued))}, ${credentialText(issued).length} chars, ${expiresIn}${usedBy}`)
    // Their periods are compared on their own lines (claude otelHeadersHelper lifetime, codex … refresh_interval_ms).
    if (uses.length > 0 && strictest === undefined) return
    // Computed on every run from the lifetime and the effective settings, never from the broker's one-time warning.
    if (issued.expiresAt !== undefined) {
      const lifetimeMs = await issuedLifetimeMs(profile.name, issued.expiresAt, deps.env, deps.nowMs())
      const safeTtlMs = safeHelperTtlMs(lifetimeMs, skewMs)
      const ttlFrom = strictest === undefined || uses.length === 1 ? ttl.from : `${ttl.from}, for ${strictest.hook}`
      if (ttl.ms > safeTtlMs) {
        const fix = ttl.variable === undefined ? "lengthen the credential's lifetime" : `set ${ttl.variable}=${safeTtlMs} (ccred setup claude ${profile.name} writes it) or lengthen the credential's lifetime`
        add(`profile ${profile.name} lifetime`, 'fail', `credentials live ${formatDurationMs(lifetimeMs)}: the helper TTL ${formatDurationMs(ttl.ms)} (${ttlFrom}) exceeds the largest safe TTL ${formatDurationMs(safeTtlMs)} (skew ${formatDurationMs(skewMs)}); ` +
          (safeTtlMs === 0 ? "lengthen the credential's lifetime or lower [broker] skew" : fix))
      } else {
        add(`profile ${profile.name} lifetime`, 'ok', `credentials live ${formatDurationMs(lifetimeMs)}: the helper TTL ${formatDurationMs(ttl.ms)} (${ttlFrom}) is within the largest safe TTL ${formatDurationMs(safeTtlMs)} (skew ${formatDurationMs(skewMs)})`)
      }
    }
  } catch (error) {
    const failure = toCcredError(error)
    add(`profile ${profile.name}`, 'fail', `[${failure.code}] ${failure.message} — ${failure.hint ?? ''}`)
  }
}

/**
 * A profile no hook names, in a run without a profile argument: what it would give,
 * as information that never fails the run (a demo, a test profile, a signed-out one).
 */
async function describeUnusedProfile(profile: ProfileConfig, deps: DoctorDeps, add: Add): Promise<void> {
  try {
    const issued = await deps.fetchCredential({ profile: profile.name, callerTtlMs: 0 }, deps.env, () => {})
    const lives = issued.expiresAt === undefined ? 'never expires' : `lives ${formatDurationMs(await issuedLifetimeMs(profile.name, issued.expiresAt, deps.env, deps.nowMs()))}`
    add(`profile ${profile.name}`, 'info', `not used by any hook; ${profile.sourceKind}: fetch ok, ${lives} (check it against a hook: ccred doctor ${profile.name})`)
  } catch (error) {
    const failure = toCcredError(error)
    add(`profile ${profile.name}`, 'info', `not used by any hook; ${profile.sourceKind}: fetch failed: [${failure.code}] ${failure.message}`)
  }
}

/** The MCP servers Claude Code reads per scope (an unreadable file has none here; checkHooks says why). */
function mcpServersByScope(env: Env, projectDir: string): Map<McpScope, Map<string, McpServerEntry>> {
  const byScope = new Map<McpScope, Map<string, McpServerEntry>>()
  for (const scope of ['user', 'project'] as const) {
    try {
      byScope.set(scope, mcpServersOf(readSettings({ scope, path: mcpConfigPath(scope, env, projectDir) }, MAX_CLAUDE_JSON_BYTES).settings))
    } catch {
      byScope.set(scope, new Map())
    }
  }
  return byScope
}

/** The kind of a credential, never its value: a JWT's header and a few claims, else "opaque". */
export async function describeCredential(value: string): Promise<string> {
  if (value.split('.').length !== 3) return 'opaque token'
  try {
    const { decodeJwt, decodeProtectedHeader } = await import('jose')
    const header = decodeProtectedHeader(value)
    const claims = decodeJwt(value)
    const summary = ['iss', 'sub', 'aud'].filter((name) => claims[name] !== undefined).map((name) => `${name}=${JSON.stringify(claims[name]).slice(0, 60)}`)
    return `JWT (${String(header.alg)}${summary.length > 0 ? `; ${summary.join(', ')}` : ''})`
  } catch {
    return 'opaque token'
  }
}

/**
 * A daemon installed as a login service (systemd, launchd) starts without the shell's
 * environment: an `env:` reference that works for an autostarted daemon is missing there,
 * and `ccred daemon stop` (the usual hint) only lets the service start it again the same way.
 */
function checkServiceEnvironment(config: LoadedConfig, platform: Platform, add: (c: string, v: Verdict, d: string) => void): void {
  const service = loginService(platform, { kind: 'npm', nodePath: process.execPath, binPath: '' }, 0)
  if (service === undefined || !existsSync(service.path)) return
  const passed = new Set(service.kind === 'launchd' ? [...service.text.matchAll(/<key>([A-Za-z_][A-Za-z0-9_]*)<\/key><string>/g)].map((m) => m[1]!) : [...service.text.matchAll(/^Environment="?([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!))
  const missing = new Map<string, string[]>()
  for (const profile of config.profiles.values()) {
    for (const reference of profile.source.references()) {
      if (reference.kind !== 'env' || passed.has(reference.target)) continue
      missing.set(reference.target, [...(missing.get(reference.target) ?? []), profile.name])
    }
  }
  for (const [name, profiles] of missing) {
    add(`${service.kind} environment`, 'warn', `${service.path} starts the daemon without ${name} (env:${name} in ${profiles.join(', ')}): a login service gets none of your shell's variables; use keychain: or file: for it (ccred set), or remove the service (ccred daemon uninstall) and let get autostart the daemon`)
  }
}

function checkClaudeSettings(claude: EffectiveClaudeSettings, env: Env, add: (c: string, v: Verdict, d: string) => void): void {
  for (const file of claude.files) {
    if ((file as SettingsFile & { invalid?: boolean }).invalid) add(`claude ${file.scope} settings`, 'fail', `${file.path} is not valid JSON: Claude Code ignores it`)
  }
  for (const key of ['apiKeyHelper', 'proxyAuthHelper', 'awsCredentialExport']) {
    const found = claude.value(key)
    if (found === undefined) continue
    const shadowed = claude.files.filter((f) => f.scope !== found.scope && f.settings[key] !== undefined && f.settings[key] !== found.value).map((f) => f.scope)
    const detail = `${JSON.stringify(found.value)} from ${found.scope} settings${shadowed.length > 0 ? `; overrides the one in ${shadowed.join(', ')} settings` : ''}`
    add(`claude ${key}`, shadowed.length > 0 ? 'warn' : 'ok', detail)
    // A node that `brew upgrade` (or an nvm switch) removed makes every helper run fail with "not found".
    const missing = typeof found.value === 'string' ? helperCommandPrograms(found.value).filter((program) => !existsSync(program)) : []
    const rerun = typeof found.value === 'string' ? rerunSetupCommand(found.value, found.scope) : ''
    if (missing.length > 0) add(`claude ${key} program`, 'fail', `${missing.join(' and ')} does not exist (node upgraded or moved?): run ${rerun}`)
    const manager = typeof found.value === 'string' && missing.length === 0 ? unstableNodeManager(helperCommandPrograms(found.value)[0] ?? '') : undefined
    if (manager !== undefined) add(`claude ${key} program`, 'warn', `the helper names one ${manager} node version (${manager} keeps no stable node path): after switching or uninstalling it, run ${rerun}`)
    if (typeof found.value === 'string' && runsCcredFromPath(found.value) && findOnPath(PORTABLE_CCRED_COMMAND, env, hostPlatform(env)) === undefined) add(`claude ${key} program`, 'fail', 'runs ccred from PATH, and there is none on this PATH: install ccred globally (npm install -g ccred)')
  }
  if (claude.value('apiKeyHelper') === undefined && claude.value('proxyAuthHelper') === undefined && claude.value('awsCredentialExport') === undefined) {
    add('claude helper', 'warn', 'no apiKeyHelper, proxyAuthHelper or awsCredentialExport in any settings layer: run ccred setup claude <profile>')
  }
  for (const name of COMPETING_VARIABLES) {
    for (const file of claude.files) {
      if (file.settings.env?.[name] !== undefined) add(`claude env ${name}`, 'fail', `set in ${file.scope} settings ${file.path}: it wins over the helper; remove it (ccred setup claude <profile> --fix)`)
    }
    if (env[name] !== undefined && env[name] !== '') add(`shell ${name}`, 'fail', 'set in this shell\'s environment: it wins over the helper; unset it and remove it from your shell profile')
  }
  if (claude.env('CLAUDE_CODE_USE_BEDROCK')?.value === '1' && claude.env('AWS_BEARER_TOKEN_BEDROCK') !== undefined) {
    add('claude env AWS_BEARER_TOKEN_BEDROCK', 'fail', 'in Bedrock mode it wins over the helper; unset it')
  }
  const quiet = claude.env('CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC')
  add('claude telemetry', quiet?.value === '1' ? 'ok' : 'warn', quiet?.value === '1'
    ? `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (${quiet.scope})`
    : 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is not 1: Claude Code also sends the helper value to Anthropic\'s telemetry endpoints (ccred setup claude sets it)')
}

/**
 * Claude Code's own gateway sign-in (`/login` to a Claude apps gateway, or
 * `forceLoginMethod: "gateway"`) beats apiKeyHelper: while it is signed in, Claude Code
 * ignores the helper. Says which credential Claude Code will really send.
 */
function checkClaudeGatewayLogin(claude: EffectiveClaudeSettings, deps: Pick<DoctorDeps, 'env' | 'nowMs'>, add: (c: string, v: Verdict, d: string) => void): void {
  const forced = claude.value('forceLoginMethod')
  const forcedGateway = forced?.value === 'gateway' ? forced : undefined
  const helper = claude.value('apiKeyHelper')
  const login = readClaudeGatewayLogin(deps.env)
  if (login.unreadable !== undefined && login.store.kind === 'file') add('claude gateway sign-in', 'warn', `${login.store.path} could not be read (${login.unreadable}): ccred cannot tell whether Claude Code holds its own gateway sign-in`)
  const saved = login.saved
  if (forcedGateway !== undefined) {
    add('claude login method', helper === undefined ? 'ok' : 'warn', `forceLoginMethod "gateway" (${forcedGateway.scope} settings): Claude Code signs in to the gateway itself with /login and, while signed in, ignores apiKeyHelper${helper === undefined ? '' : '; remove forceLoginMethod to have Claude Code use ccred, or keep it and drop apiKeyHelper'}`)
  }
  if (saved !== undefined) {
    const expiry = saved.expiresAtMs === undefined ? '' : saved.expiresAtMs > deps.nowMs() ? `, token expires in ${formatDurationMs(saved.expiresAtMs - deps.nowMs())}` : ', token expired (Claude Code refreshes it)'
    add('claude gateway sign-in', helper === undefined ? 'ok' : 'warn', `Claude Code holds its own sign-in to ${saved.url ?? 'a gateway'} (${login.store.kind === 'file' ? login.store.path : 'keychain'}${expiry})${helper === undefined ? '' : ': requests use it, not apiKeyHelper; run /logout in Claude Code to have it use ccred'}`)
  }
  if (helper === undefined) return
  if (saved !== undefined) add('claude credential', 'warn', `Claude Code sends its own gateway sign-in, not ${JSON.stringify(helper.value)}`)
  else if (forcedGateway !== undefined) add('claude credential', 'warn', `Claude Code sends ${JSON.stringify(helper.value)} only until someone signs in with /login (forceLoginMethod "gateway")${login.store.kind === 'keychain' ? '; its sign-ins are in the macOS keychain, which ccred does not read' : ''}`)
  else add('claude credential', 'ok', `Claude Code sends the apiKeyHelper value (${JSON.stringify(helper.value)})${login.store.kind === 'keychain' ? '; a gateway sign-in in the macOS keychain is not checked' : '; no gateway sign-in of its own'}`)
}

async function checkGateway(claude: EffectiveClaudeSettings, deps: DoctorDeps, trust: WorkspaceTrust, add: (c: string, v: Verdict, d: string) => void): Promise<void> {
  const variable = claude.env('CLAUDE_CODE_USE_BEDROCK')?.value === '1' ? 'ANTHROPIC_BEDROCK_BASE_URL'
    : claude.env('CLAUDE_CODE_USE_VERTEX')?.value === '1' ? 'ANTHROPIC_VERTEX_BASE_URL' : 'ANTHROPIC_BASE_URL'
  const gateway = claude.env(variable)
  if (gateway === undefined) return
  // Every variable that chose the route, with its layer: a repository's proxy (or NO_PROXY) decides where the probe goes.
  const routeScopes = new Map<string, Scope | 'shell'>()
  let proxyUrl: string | undefined
  try {
    proxyUrl = proxyFor(gateway.value, (name) => {
      const found = claude.env(name)
      if (found !== undefined) routeScopes.set(name, found.scope)
      return found?.value
    })
  } catch {
    add('gateway', 'fail', `${variable}=${gateway.value} (${gateway.scope}) is not a URL`)
    return
  }
  if (!mayUse(gateway.scope, trust)) {
    add('gateway', 'warn', heldBack(`not probed: ${variable}=${gateway.value}`, settingsSource(claude, gateway.scope)))
    return
  }
  const routedBy = [...routeScopes].filter(([, scope]) => scope !== 'shell' && isWorkspaceScope(scope))
  if (!trust.trusted && routedBy.length > 0) {
    add('gateway', 'warn', heldBack(`not probed through the proxy route of ${routedBy.map(([name, scope]) => `${name} (${scope})`).join(', ')}`, settingsSource(claude, routedBy[0]![1])))
    return
  }
  const route: ProbeRoute = proxyUrl === undefined ? {} : { proxyUrl }
  const helper = claude.value('proxyAuthHelper')
  if (proxyUrl !== undefined && claude.env('CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER')?.value === '1' && typeof helper?.value === 'string') {
    if (!mayUse(helper.scope, trust)) {
      add('gateway', 'warn', heldBack('proxyAuthHelper not run and the gateway not probed', settingsSource(claude, helper.scope)))
      return
    }
    // What Claude Code would send on the proxy hop; used for the probe only, never shown.
    let why: string | undefined
    try {
      const run = await (deps.runHookHelper ?? runHookHelper)(helper.value, { ...deps.env, CLAUDE_CODE_PROXY_URL: proxyUrl, CLAUDE_CODE_PROXY_HOST: new URL(proxyUrl).host }, PROXY_HELPER_TIMEOUT_MS)
      if (run.timedOut) why = `timed out after ${PROXY_HELPER_TIMEOUT_MS / 1000}s`
      else if (run.exitCode !== 0) why = `exited with status ${run.exitCode}`
      else route.proxyAuthorization = run.stdout.trim()
    } catch (error) {
      why = toCcredError(error).message
    }
    if (why !== undefined) {
      add('gateway', 'fail', `proxyAuthHelper from ${helper.scope} settings failed: ${why}`)
      return
    }
  }
  const ca = extraCaCertificates(claude, deps.env, trust, add)
  if (ca.pems.length > 0) route.extraCaCertificates = ca.pems
  const via = proxyUrl === undefined ? '' : ` through the proxy ${proxyUrl}${route.proxyAuthorization === undefined ? '' : ' with the proxyAuthHelper value'}`
  const trusting = ca.names.length === 0 ? '' : `, trusting ${ca.names.join(' and ')}`
  const result = await deps.probeGateway(gateway.value, route)
  if (result.ok) add('gateway', 'ok', `${variable}=${gateway.value} (${gateway.scope}) answers${via} (HTTP ${result.status}${trusting})`)
  else if (result.where === 'proxy') add('gateway', 'fail', `the proxy ${proxyUrl} for ${variable}=${gateway.value} ${/^(answered|no answer)/.test(result.reason) ? result.reason : `is unreachable: ${result.reason}`}: Claude Code cannot reach the gateway`)
  else add('gateway', 'fail', `${variable}=${gateway.value} (${gateway.scope}) is unreachable${via}: ${result.reason}${trusting}${ca.heldBack === undefined ? '' : ` (${ca.heldBack})`}`)
}

/**
 * The extra CAs Claude Code trusts: NODE_EXTRA_CA_CERTS from its settings env (the
 * highest layer the workspace trust allows: a repository's CA decides nothing unless
 * trusted) and from this process's own environment, as PEM text for the probe.
 */
function extraCaCertificates(claude: EffectiveClaudeSettings, env: Env, trust: WorkspaceTrust, add: Add): { pems: string[]; names: string[]; heldBack?: string } {
  const fromSettings = claude.helperEnv({}, trust).NODE_EXTRA_CA_CERTS
  const effective = claude.env(NODE_EXTRA_CA_CERTS)
  const held = effective !== undefined && effective.scope !== 'shell' && !mayUse(effective.scope, trust)
    ? `${NODE_EXTRA_CA_CERTS} from ${effective.scope} settings not trusted: ccred doctor ${TRUST_PROJECT_FLAG} uses it` : undefined
  const named = [...new Set([fromSettings, env[NODE_EXTRA_CA_CERTS]].filter((path): path is string => path !== undefined && path !== ''))]
  const pems: string[] = []
  const names: string[] = []
  for (const path of named) {
    try {
      pems.push(readFileSync(path, 'utf8'))
      names.push(`${NODE_EXTRA_CA_CERTS}=${path}`)
    } catch (error) {
      // Node (and so Claude Code) warns and goes on without it.
      add('gateway ca', 'warn', `${NODE_EXTRA_CA_CERTS}=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}): Claude Code goes on without that CA`)
    }
  }
  return held === undefined ? { pems, names } : { pems, names, heldBack: held }
}

const NODE_EXTRA_CA_CERTS = 'NODE_EXTRA_CA_CERTS'
