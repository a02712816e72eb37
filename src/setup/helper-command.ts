import { existsSync } from 'node:fs'
import { CcredError } from '../errors.js'
import { stableNodePath, type Platform } from '../platform.js'
import { cmdQuote } from '../text/shell-quote/cmd.js'
import { posixQuote } from '../text/shell-quote/posix.js'

/**
 * The command line Claude Code runs for a helper: absolute node and absolute bin,
 * so no PATH lookup is involved, quoted for the shell Claude Code runs it with —
 * `sh -c` on Linux and macOS, `cmd` on Windows.
 */
export function helperCommandLine(platform: Platform, nodePath: string, binPath: string, exists: (path: string) => boolean = existsSync): string {
  // The version manager's stable node, so a version switch does not break the line (platform.ts).
  const node = stableNodePath(nodePath, exists, platform)
  if (platform.os === 'win32') return [node, binPath].map(forCmd).join(' ')
  return [node, binPath].map(posixQuote).join(' ')
}

/** One path for `cmd`, or what to do when cmd cannot take it literally (text/shell-quote/cmd.ts). */
function forCmd(path: string): string {
  return cmdQuote(path, (what) => new CcredError('ERR_USAGE', `cannot write a helper command for cmd: the path ${JSON.stringify(path)} contains ${what}`, {
    hint: 'install node and ccred under paths without ", % or ! (e.g. C:\\Program Files\\nodejs and %LOCALAPPDATA%), then run setup again',
  }))
}

/**
 * The programs a helper command line starts (its node and its bin), for `doctor` to
 * check they still exist; only for command lines ccred writes (quoted absolute paths).
 */
export function helperCommandPrograms(commandLine: string): string[] {
  const quoted = /^(?:'((?:[^']|'\\'')*)'|"([^"]*)")\s+(?:'((?:[^']|'\\'')*)'|"([^"]*)")/.exec(commandLine)
  if (quoted === null) return []
  const unquote = (single?: string, double?: string) => single !== undefined ? single.replace(/'\\''/g, "'") : double!
  return [unquote(quoted[1], quoted[2]), unquote(quoted[3], quoted[4])]
}

/**
 * The exact setup command that rewrites a helper line ccred wrote: its profile read back
 * from the line (`… get <profile>` or `… aws-export <profile>`), its scope when not the user's.
 */
export function rerunSetupCommand(commandLine: string, scope: string): string {
  const profile = /\s(?:get|aws-export)\s+(?:'([^']+)'|"([^"]+)"|([^\s'"]+))/.exec(commandLine)
  const name = profile === null ? '<profile>' : (profile[1] ?? profile[2] ?? profile[3])!
  return `ccred setup claude ${name}${scope === 'user' ? '' : ` --scope ${scope}`}`
}

/**
 * A node path that names one version of a manager that keeps no stable binary (nvm on
 * Linux and macOS: ~/.nvm/versions/node/<v>/bin/node): the line breaks when that version
 * is uninstalled, so doctor says so ahead of time. Managers with a stable entry are
 * rewritten to it by stableNodePath and never reach here.
 */
export function unstableNodeManager(nodePath: string): string | undefined {
  return /\/\.nvm\/versions\/node\/[^/]+\/bin\/node$/.test(nodePath) ? 'nvm' : undefined
}

/**
 * The command a project's shared file runs (`.mcp.json`, `.claude/settings.json`):
 * `ccred` found on PATH, so the line works on every teammate's machine, whereas the
 * absolute paths of the user's own files name this machine's node and checkout.
 */
export const PORTABLE_CCRED_COMMAND = 'ccred'

/** Whether a helper line starts with the bare `ccred` that a project file gets. */
export function runsCcredFromPath(commandLine: string): boolean {
  return /^ccred(\s|$)/.test(commandLine)
}

/**
 * Where the shell would find `ccred` on this PATH (with PATHEXT on Windows), or
 * undefined: doctor's check that a project's helper line runs here.
 */
export function findOnPath(program: string, env: Record<string, string | undefined>, platform: Platform, exists: (path: string) => boolean = existsSync): string | undefined {
  const separator = platform.os === 'win32' ? ';' : ':'
  const extensions = platform.os === 'win32' ? ['', ...(env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean).map((ext) => ext.toLowerCase())] : ['']
  for (const dir of (env.PATH ?? env.Path ?? '').split(separator)) {
    if (dir === '') continue
    for (const ext of extensions) {
      const candidate = platform.path.join(dir, `${program}${ext}`)
      if (exists(candidate)) return candidate
    }
  }
  return undefined
}
