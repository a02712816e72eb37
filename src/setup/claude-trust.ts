import { existsSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { mcpConfigPath } from './claude-hooks.js'
import { MAX_CLAUDE_JSON_BYTES, readSettings } from './claude-settings.js'

type Env = Record<string, string | undefined>

/** Whether Claude Code has trusted a workspace, and where it says so. */
export interface ClaudeWorkspaceTrust {
  trusted: boolean
  /** The folder whose record counts (the project itself or a folder above it), when trusted. */
  folder?: string
  /** ~/.claude.json (or $CLAUDE_CONFIG_DIR/.claude.json): where Claude Code records its trust dialog's answer. */
  recordPath: string
  /** Why no record counts, when that is not simply "not accepted". */
  ignored?: string
}

/** Set, Claude Code counts no persisted trust record (self-hosted runs, --ignore-persisted-trust). */
const IGNORE_PERSISTED_TRUST = 'CLAUDE_CODE_IGNORE_PERSISTED_TRUST'

/**
 * Claude Code's own answer to "is this workspace trusted", as its binary (2.1.330) reads
 * it: `projects["<folder>"].hasTrustDialogAccepted === true` in ~/.claude.json for the
 * folder or a folder above it, no higher than the root of the git repository it is in.
 * A project `.mcp.json` server's headersHelper (and a project's other helpers) runs
 * only then; otherwise Claude Code logs "this workspace has no persisted trust" and
 * connects without the helper's headers.
 */
export function readClaudeWorkspaceTrust(env: Env, projectDir: string): ClaudeWorkspaceTrust {
  const recordPath = mcpConfigPath('user', env, projectDir)
  // Claude Code's reading of a flag variable: 1, true, yes or on.
  if (['1', 'true', 'yes', 'on'].includes((env[IGNORE_PERSISTED_TRUST] ?? '').trim().toLowerCase())) {
    return { trusted: false, recordPath, ignored: `${IGNORE_PERSISTED_TRUST} is set: Claude Code counts no trust record` }
  }
  let projects: unknown
  try {
    projects = readSettings({ scope: 'user', path: recordPath }, MAX_CLAUDE_JSON_BYTES).settings.projects
  } catch {
    return { trusted: false, recordPath } // doctor's MCP check says why the file cannot be read
  }
  if (typeof projects !== 'object' || projects === null) return { trusted: false, recordPath }
  const records = projects as Record<string, unknown>
  let folder = canonical(projectDir)
  const repositoryRoot = gitRoot(folder)
  for (;;) {
    // Claude Code keys Windows folders with forward slashes.
    const key = [folder, folder.replace(/\\/g, '/')].find((name) => Object.hasOwn(records, name))
    const record = key === undefined ? undefined : records[key]
    if (typeof record === 'object' && record !== null && (record as { hasTrustDialogAccepted?: unknown }).hasTrustDialogAccepted === true) return { trusted: true, folder, recordPath }
    const parent = dirname(folder)
    if (parent === folder || folder === repositoryRoot) return { trusted: false, recordPath }
    folder = parent
  }
}

function canonical(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return resolve(path)
  }
}

/** The nearest folder at or above `folder` with a `.git`, where Claude Code stops looking for a trusted folder. */
function gitRoot(folder: string): string | undefined {
  for (let at = folder; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return at
    if (dirname(at) === at) return undefined
  }
}
