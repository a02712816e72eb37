import { EXIT_CODES } from '../errors.js'
import type { McpScope } from '../setup/claude-hooks.js'
import { applyPlans } from '../setup/file-plan.js'
import { prepareMcpSetup } from '../setup/mcp-setup.js'
import { setupRecord, undoSetup } from '../setup/setup-claude.js'
import { sanitizeLine } from '../text/sanitize.js'
import { ioPlatform, usageError, type Io } from './io.js'
import { reportPlans, reportProjectNotes, reportUndo } from './setup-report.js'

export interface SetupMcpOptions {
  project?: boolean
  url?: string
  dryRun?: boolean
  undo?: boolean
}

/**
 * `ccred setup mcp <server> <profile>`: makes `ccred get <profile> --format headers`
 * the headersHelper of a remote MCP server, user scope (~/.claude.json) or, with
 * --project, the project's .mcp.json; the diff, --dry-run and --undo as setup claude.
 */
export async function runSetupMcp(server: string | undefined, profileName: string | undefined, options: SetupMcpOptions, io: Io, projectDir = process.cwd()): Promise<number> {
  const dryRun = options.dryRun === true
  if (options.undo) return reportUndo(undoSetup('mcp', io.env, dryRun), 'ccred setup mcp', dryRun, io)
  if (server === undefined || profileName === undefined) throw usageError('which server and profile? ccred setup mcp <server> <profile>', 'list the servers with: claude mcp list; the profiles with: ccred profiles')
  if (options.url !== undefined && !/^https?:\/\/[^\s/]+/.test(options.url)) throw usageError(`--url must be an http(s) URL, not "${options.url.slice(0, 60)}"`, 'e.g. --url https://mcp.example.com/mcp')
  const scope: McpScope = options.project ? 'project' : 'user'
  const { plan, warnings, profile } = await prepareMcpSetup(server, profileName, { scope, ...(options.url === undefined ? {} : { url: options.url }) }, { env: io.env, projectDir, platform: ioPlatform(io) })
  reportPlans([plan], dryRun, io)
  for (const warning of warnings) io.stderr.write(`ccred: warning: ${sanitizeLine(warning)}\n`)
  if (scope === 'project') {
    io.stderr.write('ccred: note: Claude Code runs a project server\'s helper without credential-looking variables (…_TOKEN, …_SECRET, AWS keys, SSH_AUTH_SOCK); ccred gets every secret from its daemon: check with ccred doctor\n')
    reportProjectNotes('a project server\'s headersHelper', true, io)
  }
  if (dryRun) return EXIT_CODES.OK
  applyPlans([plan], profile, setupRecord('mcp', io.env), new Date())
  if (plan.changes.length > 0) io.stderr.write(`ccred: MCP server ${server} in ${plan.file.path} now gets its headers from ccred (undo: ccred setup mcp --undo)\n`)
  io.stderr.write('ccred: check it with: ccred doctor\n')
  return EXIT_CODES.OK
}
