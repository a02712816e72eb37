import { EXIT_CODES } from '../errors.js'
import { SCOPES, type Scope } from '../setup/claude-settings.js'
import { MODES, type Mode } from '../setup/claude-setup.js'
import { applyClaudeSetup, claudeGatewayLoginWarning, prepareClaudeSetup, sharedScope, undoSetup } from '../setup/setup-claude.js'
import { ioPlatform, usageError, type Io } from './io.js'
import { reportPlans, reportProjectNotes, reportUndo } from './setup-report.js'
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

/** `ccred setup claude <profile>`: checks the options, then plans, shows and writes Claude Code's settings (src/setup/), or undoes that. */
export async function runSetupClaude(profileName: string | undefined, options: SetupClaudeOptions, io: Io, projectDir = process.cwd()): Promise<number> {
  const dryRun = options.dryRun === true
  if (options.undo) return reportUndo(undoSetup('claude', io.env, dryRun), 'ccred setup claude', dryRun, io)
  if (profileName === undefined && options.otel === undefined && options.awsAuthRefresh === undefined && options.gcpAuthRefresh === undefined) {
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

  const ctx = { env: io.env, projectDir, platform: ioPlatform(io), warn: (line: string) => io.stderr.write(`${line}\n`) }
  const prepared = await prepareClaudeSetup({
    scope,
    mode,
    fix: options.fix === true,
    ...(profileName === undefined ? {} : { profileName }),
    ...(options.gateway === undefined ? {} : { gatewayUrl: options.gateway }),
    ...(options.proxy === undefined ? {} : { proxyUrl: options.proxy }),
    ...(options.project === undefined ? {} : { vertexProjectId: options.project }),
    ...(options.region === undefined ? {} : { vertexRegion: options.region }),
    ...(options.otel === undefined ? {} : { otelProfile: options.otel }),
    ...(options.otelEndpoint === undefined ? {} : { otelEndpoint: options.otelEndpoint }),
    ...(options.awsAuthRefresh === undefined ? {} : { awsAuthRefreshProfile: options.awsAuthRefresh }),
    ...(options.gcpAuthRefresh === undefined ? {} : { gcpAuthRefreshProfile: options.gcpAuthRefresh }),
  }, ctx)
  const { plan } = prepared
  reportPlans([plan.target, ...plan.others], dryRun, io)
  for (const conflict of plan.conflicts) {
    const fixed = conflict.fixable && plan.others.concat(plan.target).some((file) => file.file.path === conflict.path && file.changes.some((c) => c.after === undefined && conflict.key.endsWith(c.key.at(-1)!)))
    const where = conflict.where === 'shell' ? 'your shell environment' : `${conflict.where} settings ${conflict.path}`
    io.stderr.write(`ccred: ${sanitizeLine(`${fixed ? (dryRun ? 'would remove' : 'removed') : 'warning'}: ${conflict.key} in ${where}: ${conflict.why}${!fixed && conflict.fixable ? ' (run again with --fix to remove it)' : ''}`)}\n`)
  }
  if (scope === 'project' || scope === 'local') reportProjectNotes(`a helper from ${scope} settings`, sharedScope(scope), io)
  if (dryRun) return EXIT_CODES.OK
  applyClaudeSetup(prepared, io.env, new Date())
  const undoNote = plan.target.file.exists ? 'previous version kept for: ccred setup claude --undo' : 'a new file: ccred setup claude --undo removes it again'
  io.stderr.write(`ccred: Claude Code ${scope} settings ${plan.target.changes.length === 0 ? 'already set up' : 'written'}: ${plan.target.file.path}${plan.target.changes.length > 0 ? ` (${undoNote})` : ''}\n`)
  if (prepared.header !== undefined && prepared.header !== 'proxy-authorization') {
    const warning = claudeGatewayLoginWarning(ctx)
    if (warning !== undefined) io.stderr.write(`${warning}\n`)
  }
  io.stderr.write('ccred: check it with: ccred doctor\n')
  return EXIT_CODES.OK
}
