import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { helperCommandLine } from '../claude/helper-command.js'
import { hostPlatform, type Platform } from '../platform.js'
import { safeHelperTtlMs } from '../broker/budget.js'
import { readClaudeGatewayLogin } from '../claude/gateway-login.js'
import { readSettings, SCOPES, settingsLocations, type Scope } from '../claude/settings.js'
import { applyFilePlan, describeChanges, MODES, planSetup, undoSetup, type Mode, type SetupPlan } from '../claude/setup.js'
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
  if (profileName === undefined) throw usageError('which profile? ccred setup claude <profile>', 'list profiles with: ccred profiles')
  const scope = (options.scope ?? 'user') as Scope
  if (!SCOPES.includes(scope)) throw usageError(`--scope must be one of ${SCOPES.join(', ')}`, 'user: ~/.claude/settings.json (default)')
  const mode = (options.mode ?? 'anthropic') as Mode
  if (!MODES.includes(mode)) throw usageError(`--mode must be one of ${MODES.join(', ')}`, 'anthropic: ANTHROPIC_BASE_URL (default)')
  for (const [flag, url] of [['--gateway', options.gateway], ['--proxy', options.proxy]] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s/]+/.test(url)) throw usageError(`${flag} must be an http(s) URL, not "${url.slice(0, 60)}"`, `e.g. ${flag} https://llm.example.com`)
  }
  if (mode === 'vertex' && options.project === undefined) throw usageError('--mode vertex needs --project <GCP project id>', 'e.g. ccred setup claude litellm --mode vertex --gateway https://llm.example.com/vertex_ai/v1 --project my-project --region us-east5')

  const { profile, skewMs } = await withInProcessService(io.env, async (service) => ({
    profile: await service.config.profile(profileName),
    skewMs: (await service.config.current()).broker.skewMs,
  }))
  const awsCredentials = profile.definition.yieldsAwsCredentials?.(profile.options) === true
  if (awsCredentials && mode !== 'bedrock') {
    throw usageError(`profile ${profileName} yields AWS credentials, which Claude Code uses only in Bedrock mode`, `run: ccred setup claude ${profileName} --mode bedrock --gateway <bedrock endpoint>`)
  }
  const helperTtlMs = awsCredentials ? undefined : await measureHelperTtl(profileName, skewMs, io)
  const plan = planSetup({
    profile: profile.name,
    sourceKind: profile.sourceKind,
    awsCredentials,
    header: profile.header,
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
  report(plan, options.dryRun === true, io)
  if (options.dryRun) return EXIT_CODES.OK
  const now = new Date()
  for (const file of [plan.target, ...plan.others]) applyFilePlan(file, profile.name, ledgerPath, now)
  const undoNote = plan.target.file.exists ? 'previous version kept for: ccred setup claude --undo' : 'a new file: ccred setup claude --undo removes it again'
  io.stderr.write(`ccred: Claude Code ${scope} settings ${plan.target.changes.length === 0 ? 'already set up' : 'written'}: ${plan.target.file.path}${plan.target.changes.length > 0 ? ` (${undoNote})` : ''}\n`)
  if (profile.header !== 'proxy-authorization') warnAboutClaudeGatewayLogin(io, projectDir)
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

/** Fetches once (through the daemon) to learn how long the profile's credentials live. */
async function measureHelperTtl(profile: string, skewMs: number, io: Io): Promise<number | undefined> {
  let issued
  try {
    issued = await requestCredential({ profile, callerTtlMs: 0 }, io.env, (line) => io.stderr.write(`${line}\n`))
  } catch (error) {
    const failure = error as CcredError
    io.stderr.write(`ccred: warning: could not fetch ${profile} to size the helper TTL (${sanitizeLine(failure.message)}); Claude Code keeps its default 5 min TTL\n`)
    return undefined
  }
  if (issued.expiresAt === undefined) return undefined
  return helperTtlFor(await issuedLifetimeMs(profile, issued.expiresAt, io.env), skewMs)
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
