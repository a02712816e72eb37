/**
 * Workspace trust, as Claude Code has it: the files a repository ships with
 * (`.mcp.json`, `.claude/settings.json`, `.claude/settings.local.json`) are the
 * repository's words, not the user's. Claude Code runs no helper from them and
 * applies none of their environment before the user trusts the workspace; ccred
 * does the same. Without the user's consent (`--trust-project` for this run, or Claude
 * Code's trust dialog accepted for the folder), a command reading them:
 * - runs no command they name (apiKeyHelper, proxyAuthHelper, headersHelper,
 *   otelHeadersHelper, …),
 * - gives no process the environment they set (an `LD_PRELOAD`, a `BASH_ENV`, a
 *   `CCRED_CONFIG` pointing into the checkout would otherwise run the repository's code),
 * - sends no credential, and no request at all, to a proxy, gateway or URL they name.
 * Reading and checking them statically is always fine, and every thing held back is
 * said, one line each, with UNTRUSTED_WORKSPACE_CODE.
 *
 * One rule in one place: every command that reads a project's settings asks here.
 * (Lives on its own so it sits below both doctor and the settings code; it belongs
 * next to the settings readers once those have one home.)
 */

/** The scopes a settings value can come from, as doctor and setup name them. */
export type SettingsScope = 'user' | 'project' | 'local' | 'managed' | 'shell'

/** The code on every line that says what was not run or not sent, so a script can find them. */
export const UNTRUSTED_WORKSPACE_CODE = 'UNTRUSTED_WORKSPACE'

/** The command-line flag by which the user trusts the project for one run. */
export const TRUST_PROJECT_FLAG = '--trust-project'

export interface WorkspaceTrust {
  /**
   * The user said so: for this run (`--trust-project`), or once and for all by accepting
   * Claude Code's trust dialog for the folder (then Claude Code itself runs what the
   * project names, and ccred checks it the same way).
   */
  readonly trusted: boolean
  readonly by?: 'flag' | 'claude-code'
}

export const UNTRUSTED: WorkspaceTrust = { trusted: false }

/** True for the scopes the repository supplies (project and local settings, the project `.mcp.json`). */
export function isWorkspaceScope(scope: SettingsScope): boolean {
  return scope === 'project' || scope === 'local'
}

/** Whether a command, environment or destination from `scope` may be used in this run. */
export function mayUse(scope: SettingsScope, trust: WorkspaceTrust): boolean {
  return trust.trusted || !isWorkspaceScope(scope)
}

/**
 * The line that says what was held back and why: `[UNTRUSTED_WORKSPACE] not run: … ;
 * to run it: ccred doctor --trust-project`. `what` says what was not done ("not run",
 * "not probed"), `source` where the thing came from.
 */
export function heldBack(what: string, source: string, command = 'ccred doctor'): string {
  return `[${UNTRUSTED_WORKSPACE_CODE}] ${what}: it comes from ${source}, which the repository supplies; ` +
    `ccred runs nothing and sends no credential from a project's files unless you trust it for the run: ${command} ${TRUST_PROJECT_FLAG} ` +
    '(or accept Claude Code\'s trust dialog for the folder)'
}
