import { existsSync } from 'node:fs'
import { CcredError } from '../errors.js'
import { stableNodePath, type Platform } from '../platform.js'
import { cmdQuote } from '../text/shell-quote/cmd.js'
import { posixQuote } from '../text/shell-quote/posix.js'

/**
 * How this ccred is started: node on the npm package's bin, or the standalone executable
 * (one file, its runtime inside: src/executable.ts). Helper lines, the login service and
 * doctor all follow it, so an executable install never names a node.
 */
export type CcredInstall =
  | { readonly kind: 'npm'; readonly nodePath: string; readonly binPath: string }
  | { readonly kind: 'executable'; readonly path: string }

/**
 * The programs that start ccred, absolute: node (the Homebrew prefix's on macOS, not the
 * Cellar version an upgrade deletes) and the bin, or the executable alone.
 */
export function ccredProgram(platform: Platform, install: CcredInstall, exists: (path: string) => boolean = existsSync): string[] {
  if (install.kind === 'executable') return [install.path]
  // The version manager's stable node, so a version switch does not break the line (platform.ts).
  return [stableNodePath(install.nodePath, exists, platform), install.binPath]
}

/**
 * The command line Claude Code runs for a helper: absolute paths, so no PATH lookup is
 * involved, quoted for the shell Claude Code runs it with — `sh -c` on Linux and macOS,
 * `cmd` on Windows.
 */
export function helperCommandLine(platform: Platform, install: CcredInstall, exists: (path: string) => boolean = existsSync): string {
  const programs = ccredProgram(platform, install, exists)
  return programs.map(platform.os === 'win32' ? forCmd : posixQuote).join(' ')
}

/** One path for `cmd`, or what to do when cmd cannot take it literally (text/shell-quote/cmd.ts). */
function forCmd(path: string): string {
  return cmdQuote(path, (what) => new CcredError('ERR_USAGE', `cannot write a helper command for cmd: the path ${JSON.stringify(path)} contains ${what}`, {
    hint: 'install node and ccred (or the ccred executable) under paths without ", % or ! (e.g. C:\\Program Files\\nodejs and %LOCALAPPDATA%), then run setup again',
  }))
}

/**
 * The programs a helper command line starts (its node and its bin, or the executable), for
 * `doctor` to check they still exist; only for command lines ccred writes (quoted absolute paths).
 */
export function helperCommandPrograms(commandLine: string): string[] {
  const quoted = /^(?:'((?:[^']|'\\'')*)'|"([^"]*)")(?:\s+(?:'((?:[^']|'\\'')*)'|"([^"]*)"))?/.exec(commandLine)
  if (quoted === null) return []
  const unquote = (single?: string, double?: string) => single !== undefined ? single.replace(/'\\''/g, "'") : double
  return [unquote(quoted[1], quoted[2]), unquote(quoted[3], quoted[4])].filter((program): program is string => program !== undefined)
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
