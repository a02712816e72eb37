import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { helperCommandLine } from '../claude/helper-command.js'
import { hostPlatform, type Platform } from '../platform.js'
import { safeHelperTtlMs } from '../broker/budget.js'
import { readClaudeGatewayLogin } from '../claude/gateway-login.js'
import { DEFAULT_OTEL_DEBOUNCE_MS, otlpExporterProblems } from '../claude/hooks.js'
import { readSettings, SCOPES, settingsLocations, type Scope } from '../claude/settings.js'
import { applyFilePlan, describeChanges, MODES, planSetup, undoSetup, type HookSetupRequest, type Mode, type SetupPlan } from '../claude/setup.js'
import { effectiveClaudeSettings } from '../doctor/doctor.js'
import { requestCredential } from '../client/credentials.js'
import { issuedLifetimeMs } from '../client/lifetime.js'
import { withInProcessService } from '../client/in-process.js'
import { stateDir } from '../config/paths.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { ioPlatform, usageError, type Io } from './io.js'
import { sanitizeLine } from '../text/sanitize.js'

export interface SetupClaudeOptions {
  scope?: string
  gateway?: string
  mode?: string
  proxy?: string
  project?: string
  region?: string
  dryRun?: boolean
  undo?: boolean
  fix?: boolean
  otel?: string
  otelEndpoint?: string
  awsAuthRefresh?: string
  gcpAuthRefresh?: string
}

/** The longest helper TTL ccred sets: a 401 re-runs the helper anyway, but a day-long cache helps nobody. */
const MAX_HELPER_TTL_MS = 3_600_000

export function setupLedgerPath(env: Record<string, string | undefined>): string {
  return join(stateDir(env), 'claude-setup.json')
}

/** The built bin (dist/cmd/ccred.cjs), absolute. */
export function ccredBinPath(): string {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cmd', 'ccred.cjs')
  if (!existsSync(bin)) throw new CcredError('ERR_INTERNAL', `the ccred bin is not at ${bin}`, { hint: 'run npm run build in the ccred checkout, then try again' })
  return bin
}

/** The command settings.json should run: absolute node and absolute bin, quoted for the platform's shell (claude/helper-command.ts). */
export function ccredCommand(platform: Platform = hostPlatform()): string {
  return helperCommandLine(platform, process.execPath, ccredBinPath())
}

/**
 * The TTL `setup claude` writes: the largest one the profile can serve safely (the
 * one rule shared with the broker's warning, `status` and `doctor`), capped.
 */
export function helperTtlFor(lifetimeMs: number, skewMs: number): number {
  return Math.min(MAX_HELPER_TTL_MS, Math.max(1000, safeHelperTtlMs(lifetimeMs, skewMs)))
}

/** `ccred setup claude <profile>`: writes Claude Code's settings for a profile, or undoes that. */
export async function runSetupClaude(profileName: string | undefined, options: SetupClaudeOptions, io: Io, projectDir = process.cwd()): Promise<number> {
  const ledgerPath = setupLedgerPath(io.env)
  if (options.undo) return undo(ledgerPath, options.dryRun === true, io)
  const hooksOnly = profileName === undefined
  if (hooksOnly && options.otel === undefined && options.awsAuthRefresh === undefined && options.gcpAuthRefresh === undefined) {
    throw usageError('which profile? ccred setup claude <profile> (or only a hook: --otel <profile>, --aws-auth-refresh <profile>)', 'list profiles with: ccred profiles')
  }
  if (options.otelEndpoint !== undefined && options.otel === undefined) throw usageError('--otel-endpoint goes with --otel <profile>', 'e.g. ccred setup claude --otel collector --otel-endpoint https://otel.example.com')
  const scope = (options.scope ?? 'user') as Scope
  if (!SCOPES.includes(scope)) throw usageError(`--scope must be one of ${SCOPES.join(', ')}`, 'user: ~/.claude/settings.json (default)')
  const mode = (options.mode ?? 'anthropic') as Mode
  if (!MODES.includes(mode)) throw usageError(`--mode must be one of ${MODES.join(', ')}`, 'anthropic: ANTHROPIC_BASE_URL (default)')
  for (const [flag, url] of [['--gateway', options.gateway], ['--proxy', options.proxy], ['--otel-endpoint', options.otelEndpoint]] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s/]+/.test(url)) throw usageError(`${flag} must be an http(s) URL, not "${url.slice(0, 60)}"`, `e.g. ${flag} https://llm.example.com`)
  }
  if (mode === 'vertex' && options.project === undefined) throw usageError('--mode vertex needs --project <GCP project id>', 'e.g. ccred setup claude litellm --mode vertex --gateway https://llm.example.com/vertex_ai/v1 --project my-project --region us-east5')

  const { profile, skewMs, hookProfiles } = await withInProcessService(io.env, async (service) => ({
    profile: profileName === undefined ? undefined : await service.config.profile(profileName),
    skewMs: (await service.config.current()).broker.skewMs,
    hookProfiles: await Promise.all([options.otel, options.awsAuthRefresh, options.gcpAuthRefresh].map((name) => (name === undefined ? undefined : service.config.profile(name)))),
  }))
  for (const [flag, hookProfile] of [['--aws-auth-refresh', hookProfiles[1]], ['--gcp-auth-refresh', hookProfiles[2]]] as const) {
    // Claude Code runs the refresh command when its cloud credentials are missing or expired: a sign-in is what renews them.
    if (hookProfile !== undefined && hookProfile.source.loginTarget() === undefined) {
      throw usageError(`${flag} ${hookProfile.name}: ccred login refreshes only a sign-in (source = "oidc") profile, and ${hookProfile.name} has source "${hookProfile.sourceKind}"`, 'leave the refresh to the cloud CLI (aws sso login, gcloud auth application-default login), or name an oidc profile')
    }
  }
  const awsCredentials = profile !== undefined && profile.source.yieldsAwsCredentials()
  if (profile !== undefined && awsCredentials && mode !== 'bedrock') {
    throw usageError(`profile ${profile.name} yields AWS credentials, which Claude Code uses only in Bedrock mode`, `run: ccred setup claude ${profile.name} --mode bedrock --gateway <bedrock endpoint>`)
  }
  const helperTtlMs = profile === undefined || awsCredentials ? undefined : await measureHelperTtl(profile.name, skewMs, io)
  const otelDebounceMs = options.otel === undefined ? undefined : await measureOtelDebounce(options.otel, skewMs, io)
  const hooks: HookSetupRequest = {
    ...(options.otel === undefined ? {} : { otelProfile: options.otel }),
    ...(options.otelEndpoint === undefined ? {} : { otelEndpoint: options.otelEndpoint }),
    ...(otelDebounceMs === undefined ? {} : { otelDebounceMs }),
    ...(options.awsAuthRefresh === undefined ? {} : { awsAuthRefreshProfile: options.awsAuthRefresh }),
    ...(options.gcpAuthRefresh === undefined ? {} : { gcpAuthRefreshProfile: options.gcpAuthRefresh }),
  }
  const plan = planSetup({
    helper: !hooksOnly,
    hooks,
    profile: profile?.name ?? '',
    sourceKind: profile?.sourceKind ?? '',
    awsCredentials,
    header: profile?.header ?? 'authorization',
    scope,
    mode,
    ccredCommand: ccredCommand(ioPlatform(io)),
    ...(options.gateway === undefined ? {} : { gatewayUrl: options.gateway }),
    ...(options.proxy === undefined ? {} : { proxyUrl: options.proxy }),
    ...(options.project === undefined ? {} : { vertexProjectId: options.project }),
    ...(options.region === undefined ? {} : { vertexRegion: options.region }),
    ...(helperTtlMs === undefined ? {} : { helperTtlMs }),
    fix: options.fix === true,
  }, io.env, projectDir, ioPlatform(io))
  if (options.otel !== undefined) warnAboutOtlpExporter(plan, io, projectDir)
  report(plan, options.dryRun === true, io)
  if (options.dryRun) return EXIT_CODES.OK
  const now = new Date()
  for (const file of [plan.target, ...plan.others]) applyFilePlan(file, profile?.name ?? options.otel ?? options.awsAuthRefresh ?? options.gcpAuthRefresh ?? '', ledgerPath, now)
  const undoNote = plan.target.file.exists ? 'previous version kept for: ccred setup claude --undo' : 'a new file: ccred setup claude --undo removes it again'
  io.stderr.write(`ccred: Claude Code ${scope} settings ${plan.target.changes.length === 0 ? 'already set up' : 'written'}: ${plan.target.file.path}${plan.target.changes.length > 0 ? ` (${undoNote})` : ''}\n`)
  if (profile !== undefined && profile.header !== 'proxy-authorization') warnAboutClaudeGatewayLogin(io, projectDir)
  io.stderr.write('ccred: check it with: ccred doctor\n')
  return EXIT_CODES.OK
}

/** While Claude Code is signed in to a gateway itself, it ignores the apiKeyHelper just written: say so. */
function warnAboutClaudeGatewayLogin(io: Io, projectDir: string): void {
  const forced = settingsLocations(io.env, projectDir, ioPlatform(io)).some((location) => {
    try {
      return readSettings(location).settings.forceLoginMethod === 'gateway'
    } catch {
      return false
    }
  })
  const saved = readClaudeGatewayLogin(io.env).saved
  if (saved !== undefined) io.stderr.write(`ccred: warning: Claude Code holds its own sign-in to ${saved.url ?? 'a gateway'} and ignores apiKeyHelper while it does; run /logout in Claude Code to have it use ccred\n`)
  else if (forced) io.stderr.write('ccred: warning: forceLoginMethod "gateway" is set: once someone signs in with /login, Claude Code ignores apiKeyHelper\n')
}

/**
 * The otel debounce to set, or undefined to keep Claude Code's 29 min: otel headers
 * are reused for the whole debounce period, so a profile whose safe helper TTL
 * (safeHelperTtlMs, the one TTL-vs-lifetime rule) is shorter needs a shorter period.
 */
async function measureOtelDebounce(profile: string, skewMs: number, io: Io): Promise<number | undefined> {
  const lifetimeMs = await measureLifetime(profile, io, 'the otelHeadersHelper debounce', "Claude Code's 29 min debounce")
  if (lifetimeMs === undefined || safeHelperTtlMs(lifetimeMs, skewMs) >= DEFAULT_OTEL_DEBOUNCE_MS) return undefined
  return helperTtlFor(lifetimeMs, skewMs)
}

/** Says what keeps the OTLP exporter from running otelHeadersHelper, as Claude Code will see the settings after this setup. */
function warnAboutOtlpExporter(plan: SetupPlan, io: Io, projectDir: string): void {
  const claude = effectiveClaudeSettings(io.env, projectDir)
  const setting = (name: string): string | undefined => {
    const planned = plan.target.next.env?.[name]
    return typeof planned === 'string' ? planned : claude.env(name)?.value
  }
  for (const problem of otlpExporterProblems(setting)) io.stderr.write(`ccred: warning: otelHeadersHelper: ${problem} (--otel-endpoint <url> writes the exporter settings)\n`)
}

/** Fetches once (through the daemon) to learn how long the profile's credentials live. */
async function measureHelperTtl(profile: string, skewMs: number, io: Io): Promise<number | undefined> {
  const lifetimeMs = await measureLifetime(profile, io, 'the helper TTL', 'Claude Code keeps its default 5 min TTL')
  return lifetimeMs === undefined ? undefined : helperTtlFor(lifetimeMs, skewMs)
}

/** How long the profile's credentials live (whole seconds), or undefined when they do not expire or cannot be fetched. */
async function measureLifetime(profile: string, io: Io, what: string, fallback: string): Promise<number | undefined> {
  let issued
  try {
    issued = await requestCredential({ profile, callerTtlMs: 0 }, io.env, (line) => io.stderr.write(`${line}\n`))
  } catch (error) {
    const failure = error as CcredError
    io.stderr.write(`ccred: warning: could not fetch ${profile} to size ${what} (${sanitizeLine(failure.message)}); ${fallback}\n`)
    return undefined
  }
  if (issued.expiresAt === undefined) return undefined
  return issuedLifetimeMs(profile, issued.expiresAt, io.env)
}

function report(plan: SetupPlan, dryRun: boolean, io: Io): void {
  const files = [plan.target, ...plan.others].filter((file) => file.changes.length > 0)
  if (files.length === 0) io.stdout.write(`${plan.target.file.path}: no changes\n`)
  for (const file of files) {
    io.stdout.write(`${dryRun ? 'would change' : 'changing'} ${file.file.path}${file.file.exists ? '' : ' (new file)'}:\n`)
    // A project's settings come with the repository: its keys and values pass the sanitizer.
    for (const line of describeChanges(file)) io.stdout.write(`  ${sanitizeLine(line)}\n`)
  }
  for (const conflict of plan.conflicts) {
    const fixed = conflict.fixable && plan.others.concat(plan.target).some((file) => file.file.path === conflict.path && file.changes.some((c) => c.after === undefined && conflict.key.endsWith(c.key.at(-1)!)))
    const where = conflict.where === 'shell' ? 'your shell environment' : `${conflict.where} settings ${conflict.path}`
    io.stderr.write(`ccred: ${sanitizeLine(`${fixed ? (dryRun ? 'would remove' : 'removed') : 'warning'}: ${conflict.key} in ${where}: ${conflict.why}${!fixed && conflict.fixable ? ' (run again with --fix to remove it)' : ''}`)}\n`)
  }
}

function undo(ledgerPath: string, dryRun: boolean, io: Io): number {
  const results = undoSetup(ledgerPath, dryRun)
  if (results.length === 0) {
    io.stderr.write('ccred: nothing to undo: ccred has not changed any Claude Code settings (or they were already restored)\n')
    return EXIT_CODES.OK
  }
  for (const result of results) {
    const what = result.removed
      ? `${dryRun ? 'would remove' : 'removed'} ${result.path}, which ccred setup had created`
      : `${dryRun ? 'would restore' : 'restored'} ${result.path}${result.original ? ' to exactly what it was' : ''}`
    io.stdout.write(`${what}: ${result.restored.join(', ') || 'nothing'}\n`)
    if (result.keptUserEdits.length > 0) io.stderr.write(`ccred: kept your later edits of ${result.keptUserEdits.join(', ')} in ${result.path}\n`)
  }
  return EXIT_CODES.OK
}
