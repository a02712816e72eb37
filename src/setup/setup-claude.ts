import { join } from 'node:path'
import { safeHelperTtlMs } from '../broker/budget.js'
import { withInProcessService } from '../client/in-process.js'
import { stateDir } from '../config/paths.js'
import { CcredError } from '../errors.js'
import type { Platform } from '../platform.js'
import { ccredCommandFor } from './ccred-command.js'
import { helperTtlFor, measureLifetime } from './lifetime.js'
import { DEFAULT_OTEL_DEBOUNCE_MS, otlpExporterProblems } from './claude-hooks.js'
import { readSettings, settingsLocations, type Scope } from './claude-settings.js'
import { planSetup, type HookSetupRequest, type Mode, type SetupPlan } from './claude-setup.js'
import { effectiveClaudeSettings } from './effective-settings.js'
import { applyPlans, undoRecorded, type SetupRecord, type UndoResult } from './file-plan.js'
import { readClaudeGatewayLogin } from './gateway-login.js'

type Env = Record<string, string | undefined>

/** Where a setup runs, and where its warnings go (whole stderr lines, "ccred: …", as the client writes them). */
export interface SetupContext {
  env: Env
  projectDir: string
  platform: Platform
  warn(line: string): void
}

/** What `ccred setup claude` was asked for, checked by the command. */
export interface ClaudeSetupInput {
  /** undefined: only hooks (--otel, --aws-auth-refresh, --gcp-auth-refresh). */
  profileName?: string
  scope: Scope
  mode: Mode
  gatewayUrl?: string
  proxyUrl?: string
  vertexProjectId?: string
  vertexRegion?: string
  otelProfile?: string
  otelEndpoint?: string
  awsAuthRefreshProfile?: string
  gcpAuthRefreshProfile?: string
  fix: boolean
}

export interface PreparedClaudeSetup {
  plan: SetupPlan
  /** The name the record keeps for this setup (the profile, or the hook's). */
  recordedAs: string
  /** The main profile's header, when there is one. */
  header?: string
}

/** Which command's record: each undoes its own changes. */
export type SetupKind = 'claude' | 'mcp' | 'codex'

export function setupRecord(kind: SetupKind, env: Env): SetupRecord {
  const dir = stateDir(env)
  return { ledgerPath: join(dir, `${kind}-setup.json`), backupDir: join(dir, 'setup-backups') }
}

/** Whether a Claude Code layer is shared with the project's other users (committed): its lines run ccred from PATH. */
export function sharedScope(scope: Scope): boolean {
  return scope === 'project'
}

/** `ccred setup claude`: what to write into Claude Code's settings for a profile (and hooks), measured from the profile's credentials. */
export async function prepareClaudeSetup(input: ClaudeSetupInput, ctx: SetupContext): Promise<PreparedClaudeSetup> {
  const { profile, skewMs, hookProfiles } = await withInProcessService(ctx.env, async (service) => ({
    profile: input.profileName === undefined ? undefined : await service.config.profile(input.profileName),
    skewMs: (await service.config.current()).broker.skewMs,
    hookProfiles: await Promise.all([input.otelProfile, input.awsAuthRefreshProfile, input.gcpAuthRefreshProfile].map((name) => (name === undefined ? undefined : service.config.profile(name)))),
  }))
  for (const [flag, hookProfile] of [['--aws-auth-refresh', hookProfiles[1]], ['--gcp-auth-refresh', hookProfiles[2]]] as const) {
    // Claude Code runs the refresh command when its cloud credentials are missing or expired: a sign-in is what renews them.
    if (hookProfile !== undefined && hookProfile.source.loginTarget() === undefined) {
      throw new CcredError('ERR_USAGE', `${flag} ${hookProfile.name}: ccred login refreshes only a sign-in (source = "oidc") profile, and ${hookProfile.name} has source "${hookProfile.sourceKind}"`, { hint: 'leave the refresh to the cloud CLI (aws sso login, gcloud auth application-default login), or name an oidc profile' })
    }
  }
  const awsCredentials = profile !== undefined && profile.source.yieldsAwsCredentials()
  if (profile !== undefined && awsCredentials && input.mode !== 'bedrock') {
    throw new CcredError('ERR_USAGE', `profile ${profile.name} yields AWS credentials, which Claude Code uses only in Bedrock mode`, { hint: `run: ccred setup claude ${profile.name} --mode bedrock --gateway <bedrock endpoint>` })
  }
  const helperTtlMs = profile === undefined || awsCredentials ? undefined : await measureHelperTtl(profile.name, skewMs, ctx)
  const otelDebounceMs = input.otelProfile === undefined ? undefined : await measureOtelDebounce(input.otelProfile, skewMs, ctx)
  const hooks: HookSetupRequest = {
    ...(input.otelProfile === undefined ? {} : { otelProfile: input.otelProfile }),
    ...(input.otelEndpoint === undefined ? {} : { otelEndpoint: input.otelEndpoint }),
    ...(otelDebounceMs === undefined ? {} : { otelDebounceMs }),
    ...(input.awsAuthRefreshProfile === undefined ? {} : { awsAuthRefreshProfile: input.awsAuthRefreshProfile }),
    ...(input.gcpAuthRefreshProfile === undefined ? {} : { gcpAuthRefreshProfile: input.gcpAuthRefreshProfile }),
  }
  const plan = planSetup({
    helper: profile !== undefined,
    hooks,
    profile: profile?.name ?? '',
    sourceKind: profile?.sourceKind ?? '',
    awsCredentials,
    header: profile?.header ?? 'authorization',
    scope: input.scope,
    mode: input.mode,
    ccredCommand: ccredCommandFor(sharedScope(input.scope), ctx.platform),
    ...(input.gatewayUrl === undefined ? {} : { gatewayUrl: input.gatewayUrl }),
    ...(input.proxyUrl === undefined ? {} : { proxyUrl: input.proxyUrl }),
    ...(input.vertexProjectId === undefined ? {} : { vertexProjectId: input.vertexProjectId }),
    ...(input.vertexRegion === undefined ? {} : { vertexRegion: input.vertexRegion }),
    ...(helperTtlMs === undefined ? {} : { helperTtlMs }),
    fix: input.fix,
  }, ctx.env, ctx.projectDir, ctx.platform)
  if (input.otelProfile !== undefined) warnAboutOtlpExporter(plan, ctx)
  return {
    plan,
    recordedAs: profile?.name ?? input.otelProfile ?? input.awsAuthRefreshProfile ?? input.gcpAuthRefreshProfile ?? '',
    ...(profile === undefined ? {} : { header: profile.header }),
  }
}

/** Writes a prepared setup (backups and the record in the state directory). */
export function applyClaudeSetup(prepared: PreparedClaudeSetup, env: Env, now: Date): void {
  applyPlans([prepared.plan.target, ...prepared.plan.others], prepared.recordedAs, setupRecord('claude', env), now)
}

/** Reverts what `setup claude` or `setup mcp` wrote (the one undo of file-plan.ts, on that command's record). */
export function undoSetup(kind: SetupKind, env: Env, dryRun: boolean): UndoResult[] {
  return undoRecorded(setupRecord(kind, env).ledgerPath, dryRun)
}

/** While Claude Code is signed in to a gateway itself, it ignores the apiKeyHelper just written: the warning, if so. */
export function claudeGatewayLoginWarning(ctx: Omit<SetupContext, 'warn'>): string | undefined {
  const forced = settingsLocations(ctx.env, ctx.projectDir, ctx.platform).some((location) => {
    try {
      return readSettings(location).settings.forceLoginMethod === 'gateway'
    } catch {
      return false
    }
  })
  const saved = readClaudeGatewayLogin(ctx.env).saved
  if (saved !== undefined) return `ccred: warning: Claude Code holds its own sign-in to ${saved.url ?? 'a gateway'} and ignores apiKeyHelper while it does; run /logout in Claude Code to have it use ccred`
  if (forced) return 'ccred: warning: forceLoginMethod "gateway" is set: once someone signs in with /login, Claude Code ignores apiKeyHelper'
  return undefined
}

/**
 * The otel debounce to set, or undefined to keep Claude Code's 29 min: otel headers
 * are reused for the whole debounce period, so a profile whose safe helper TTL
 * (safeHelperTtlMs, the one TTL-vs-lifetime rule) is shorter needs a shorter period.
 */
async function measureOtelDebounce(profile: string, skewMs: number, ctx: SetupContext): Promise<number | undefined> {
  const lifetimeMs = await measureLifetime(profile, ctx.env, ctx.warn, 'the otelHeadersHelper debounce', "Claude Code's 29 min debounce")
  if (lifetimeMs === undefined || safeHelperTtlMs(lifetimeMs, skewMs) >= DEFAULT_OTEL_DEBOUNCE_MS) return undefined
  return helperTtlFor(lifetimeMs, skewMs)
}

/** Says what keeps the OTLP exporter from running otelHeadersHelper, as Claude Code will see the settings after this setup. */
function warnAboutOtlpExporter(plan: SetupPlan, ctx: SetupContext): void {
  const claude = effectiveClaudeSettings(ctx.env, ctx.projectDir)
  const setting = (name: string): string | undefined => {
    const planned = plan.target.next.settings.env?.[name]
    return typeof planned === 'string' ? planned : claude.env(name)?.value
  }
  for (const problem of otlpExporterProblems(setting)) ctx.warn(`ccred: warning: otelHeadersHelper: ${problem} (--otel-endpoint <url> writes the exporter settings)`)
}

/** Fetches once (through the daemon) to learn how long the profile's credentials live. */
async function measureHelperTtl(profile: string, skewMs: number, ctx: SetupContext): Promise<number | undefined> {
  const lifetimeMs = await measureLifetime(profile, ctx.env, ctx.warn, 'the helper TTL', 'Claude Code keeps its default 5 min TTL')
  return lifetimeMs === undefined ? undefined : helperTtlFor(lifetimeMs, skewMs)
}

