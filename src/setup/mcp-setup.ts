import { withInProcessService } from '../client/in-process.js'
import { CcredError } from '../errors.js'
import { headerTemplatesOf } from '../output/headers.js'
import type { Platform } from '../platform.js'
import { ccredCommandFor } from './ccred-command.js'
import { caseClashes, isRemoteMcpServer, mcpConfigPath, mcpServersOf, type McpScope } from './claude-hooks.js'
import { MAX_CLAUDE_JSON_BYTES, readSettingsForEdit } from './claude-settings.js'
import { jsonFormat, type JsonDocument, type SettingKey } from './document-format.js'
import { planEdit, type FilePlan } from './file-plan.js'

export interface McpSetupRequest {
  server: string
  profile: string
  scope: McpScope
  /** The command that runs ccred: absolute for the user's own file, `ccred` (from PATH) for a project's, which teammates share. */
  ccredCommand: string
  /** Creates the server entry (`"type": "http"`) when the file has none by that name. */
  url?: string
  /** The header names the profile prints, to compare with the server's static headers. */
  headerNames: readonly string[]
}

export interface McpSetupPlan {
  plan: FilePlan<JsonDocument>
  warnings: string[]
}

/** Claude Code's server names: letters, digits, "_" and "-" (it builds tool names `mcp__<server>__<tool>` from them). */
const SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/

/**
 * `ccred setup mcp`: the server's `headersHelper` in ~/.claude.json (user scope)
 * or the project's .mcp.json, merged into what is there (other servers, the
 * server's url and static headers stay).
 */
export function planMcpSetup(request: McpSetupRequest, env: Record<string, string | undefined>, workingDir: string): McpSetupPlan {
  if (!SERVER_NAME.test(request.server)) {
    throw new CcredError('ERR_USAGE', `MCP server name "${request.server.slice(0, 40)}" must be letters, digits, "_" or "-"`, { hint: 'use the name the server has in claude mcp list' })
  }
  const path = mcpConfigPath(request.scope, env, workingDir)
  // The project's file is read strictly (a link to ~/.claude.json is refused) and kept inside the project.
  const projectDir = request.scope === 'project' ? workingDir : undefined
  const file = readSettingsForEdit({ scope: request.scope, path }, MAX_CLAUDE_JSON_BYTES, projectDir)
  const existing = mcpServersOf(file.settings).get(request.server)
  const where = request.scope === 'project' ? path : `${path} (user scope)`
  const wanted: [SettingKey, unknown][] = []
  const headersHelper = `${request.ccredCommand} get ${request.profile} --format headers`
  if (existing === undefined) {
    if (request.url === undefined) {
      throw new CcredError('ERR_USAGE', `no MCP server named "${request.server}" in ${where}`, {
        hint: `add it first (claude mcp add --transport http${request.scope === 'project' ? ' --scope project' : ' --scope user'} ${request.server} <url>), or pass --url <url> to create it`,
      })
    }
    // One key for the whole new entry: undo removes it only as ccred wrote it, never leaving half a server behind.
    wanted.push([['mcpServers', request.server], { type: 'http', url: request.url, headersHelper }])
  } else if (!isRemoteMcpServer(existing)) {
    throw new CcredError('ERR_USAGE', `MCP server "${request.server}" in ${where} is not a remote server ("type": "http" or "sse" with a "url"): Claude Code runs headersHelper only for those`, {
      hint: 'a stdio server gets its secrets through its own "env", not a headersHelper',
    })
  } else if (request.url !== undefined && request.url !== existing.url) {
    wanted.push([['mcpServers', request.server, 'url'], request.url])
  }
  if (existing !== undefined) wanted.push([['mcpServers', request.server, 'headersHelper'], headersHelper])

  const plan = planEdit(file, jsonFormat, { settings: file.settings, indent: file.indent }, wanted, { scope: request.scope, ...(projectDir === undefined ? {} : { projectDir, shared: true }) })
  const warnings: string[] = []
  for (const clash of caseClashes(request.headerNames, existing?.headers)) {
    warnings.push(`the server's static header "${clash.static}" and ccred's "${clash.helper}" differ only in case: Claude Code sends both; rename one so they match exactly (then ccred's wins)`)
  }
  if (existing?.headersHelper !== undefined && existing.headersHelper !== headersHelper) {
    warnings.push(`replaces the server's headersHelper ${JSON.stringify(existing.headersHelper.slice(0, 80))} (ccred setup mcp --undo restores it)`)
  }
  return { plan, warnings }
}

/**
 * `ccred setup mcp <server> <profile>`: the plan for the profile's headers. The
 * project's .mcp.json gets `ccred` from PATH (it is shared with the team); the user's
 * ~/.claude.json the absolute command.
 */
export async function prepareMcpSetup(server: string, profileName: string, options: { scope: McpScope; url?: string }, ctx: { env: Record<string, string | undefined>; projectDir: string; platform: Platform }): Promise<McpSetupPlan & { profile: string }> {
  const profile = await withInProcessService(ctx.env, (service) => service.config.profile(profileName))
  const planned = planMcpSetup({
    server,
    profile: profile.name,
    scope: options.scope,
    ccredCommand: ccredCommandFor(options.scope === 'project', ctx.platform),
    headerNames: Object.keys(headerTemplatesOf(profile)),
    ...(options.url === undefined ? {} : { url: options.url }),
  }, ctx.env, ctx.projectDir)
  return { ...planned, profile: profile.name }
}
