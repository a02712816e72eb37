import { join } from 'node:path'
import type { McpScope } from '../setup/claude-hooks.js'
import { planMcpSetup } from '../setup/mcp-setup.js'
import { applyFilePlan, describeChanges, undoSetup } from '../setup/claude-setup.js'
import { withInProcessService } from '../client/in-process.js'
import { stateDir } from '../config/paths.js'
import { EXIT_CODES } from '../errors.js'
import { headerTemplatesOf } from '../output/headers.js'
import { sanitizeLine } from '../text/sanitize.js'
import { ccredCommand } from './setup-claude.js'
import { usageError, type Io } from './io.js'

export interface SetupMcpOptions {
  project?: boolean
  url?: string
  dryRun?: boolean
  undo?: boolean
}

/** Its own record, so `setup mcp --undo` and `setup claude --undo` each undo their own changes. */
export function mcpSetupLedgerPath(env: Record<string, string | undefined>): string {
  return join(stateDir(env), 'mcp-setup.json')
}

/**
 * `ccred setup mcp <server> <profile>`: makes `ccred get <profile> --format headers`
 * the headersHelper of a remote MCP server, user scope (~/.claude.json) or, with
 * --project, the project's .mcp.json; backup, --dry-run and --undo as setup claude.
 */
export async function runSetupMcp(server: string | undefined, profileName: string | undefined, options: SetupMcpOptions, io: Io, projectDir = process.cwd()): Promise<number> {
  const ledgerPath = mcpSetupLedgerPath(io.env)
  if (options.undo) return undo(ledgerPath, options.dryRun === true, io)
  if (server === undefined || profileName === undefined) throw usageError('which server and profile? ccred setup mcp <server> <profile>', 'list the servers with: claude mcp list; the profiles with: ccred profiles')
  if (options.url !== undefined && !/^https?:\/\/[^\s/]+/.test(options.url)) throw usageError(`--url must be an http(s) URL, not "${options.url.slice(0, 60)}"`, 'e.g. --url https://mcp.example.com/mcp')
  const profile = await withInProcessService(io.env, (service) => service.config.profile(profileName))
  const scope: McpScope = options.project ? 'project' : 'user'
  const { plan, warnings } = planMcpSetup({
    server,
    profile: profile.name,
    scope,
    ccredCommand: ccredCommand(),
    headerNames: Object.keys(headerTemplatesOf(profile)),
    ...(options.url === undefined ? {} : { url: options.url }),
  }, io.env, projectDir)
  if (plan.changes.length === 0) io.stdout.write(`${plan.file.path}: no changes\n`)
  else {
    io.stdout.write(`${options.dryRun ? 'would change' : 'changing'} ${plan.file.path}${plan.file.exists ? '' : ' (new file)'}:\n`)
    for (const line of describeChanges(plan)) io.stdout.write(`  ${line}\n`)
  }
  for (const warning of warnings) io.stderr.write(`ccred: warning: ${sanitizeLine(warning)}\n`)
  if (scope === 'project') {
    io.stderr.write('ccred: note: Claude Code runs a project server\'s helper without credential-looking variables (…_TOKEN, …_SECRET, AWS keys, SSH_AUTH_SOCK); ccred gets every secret from its daemon: check with ccred doctor\n')
  }
  if (options.dryRun) return EXIT_CODES.OK
  applyFilePlan(plan, profile.name, ledgerPath, new Date())
  if (plan.changes.length > 0) io.stderr.write(`ccred: MCP server ${server} in ${plan.file.path} now gets its headers from ccred (undo: ccred setup mcp --undo)\n`)
  io.stderr.write('ccred: check it with: ccred doctor\n')
  return EXIT_CODES.OK
}

function undo(ledgerPath: string, dryRun: boolean, io: Io): number {
  const results = undoSetup(ledgerPath, dryRun)
  if (results.length === 0) {
    io.stderr.write('ccred: nothing to undo: ccred setup mcp has not changed any MCP config (or it was already restored)\n')
    return EXIT_CODES.OK
  }
  for (const result of results) {
    const what = result.removed ? `${dryRun ? 'would remove' : 'removed'} ${result.path}, which ccred setup mcp had created` : `${dryRun ? 'would restore' : 'restored'} ${result.path}${result.original ? ' to exactly what it was' : ''}`
    io.stdout.write(`${what}: ${result.restored.join(', ') || 'nothing'}\n`)
    if (result.keptUserEdits.length > 0) io.stderr.write(`ccred: kept your later edits of ${result.keptUserEdits.join(', ')} in ${result.path}\n`)
  }
  return EXIT_CODES.OK
}
