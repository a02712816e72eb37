import { existsSync } from 'node:fs'
import { CcredError } from '../errors.js'
import type { Platform } from '../platform.js'
import { cmdQuote } from '../text/shell-quote/cmd.js'

/** What `spawn` gets for an exec source's command, per platform. */
export interface ExecInvocation {
  file: string
  args: string[]
  /** Windows: the command line is already quoted for cmd; Node must not quote it again. */
  windowsVerbatimArguments: boolean
  /** Its own process group, so a timeout kills the whole tree (Unix only). */
  detached: boolean
  /** For messages. */
  name: string
}

/**
 * Unix: `/bin/sh -c <line>` with shell = true, else the argv as it is. Windows:
 * `%ComSpec% /d /s /c "<line>"` with shell = true (what Node itself does); an argv
 * whose program has no extension is looked up through PATH and PATHEXT, as cmd
 * would; and a `.cmd`/`.bat` (npm's claude.cmd, gcloud.cmd, az.cmd) runs through
 * %ComSpec% — Windows cannot start a batch file directly (Node refuses with EINVAL).
 */
export function execInvocation(platform: Platform, argv: string[], shell: boolean, exists: (path: string) => boolean = existsSync): ExecInvocation {
  if (platform.os !== 'win32') {
    return shell
      ? { file: '/bin/sh', args: ['-c', argv[0]!], windowsVerbatimArguments: false, detached: true, name: execName(platform.os, argv, true) }
      : { file: argv[0]!, args: argv.slice(1), windowsVerbatimArguments: false, detached: true, name: argv[0]! }
  }
  const comSpec = platform.env.ComSpec || platform.env.COMSPEC || 'C:\\Windows\\System32\\cmd.exe'
  if (shell) return { file: comSpec, args: ['/d', '/s', '/c', `"${argv[0]!}"`], windowsVerbatimArguments: true, detached: false, name: execName(platform.os, argv, true) }
  const program = resolveWindowsProgram(platform, argv[0]!, exists)
  if (/\.(cmd|bat)$/i.test(program)) {
    const line = [program, ...argv.slice(1)].map((arg) => cmdArgument(arg, argv[0]!)).join(' ')
    return { file: comSpec, args: ['/d', '/s', '/c', `"${line}"`], windowsVerbatimArguments: true, detached: false, name: argv[0]! }
  }
  return { file: program, args: argv.slice(1), windowsVerbatimArguments: false, detached: false, name: argv[0]! }
}

/** What messages call the command: the shell actually used, or the program as written. */
export function execName(os: NodeJS.Platform, argv: string[], shell: boolean): string {
  if (!shell) return argv[0]!
  return os === 'win32' ? 'cmd /c' : 'sh -c'
}

/**
 * Windows has no process groups to signal: ending `cmd.exe` leaves the helper's own
 * children running (a `ping` ran its full 30 s). `taskkill /T /F` ends the process and
 * every descendant. Unix needs nothing spawned (the group is signalled), so undefined.
 */
export function treeKillInvocation(platform: Platform, pid: number): { file: string; args: string[] } | undefined {
  if (platform.os !== 'win32') return undefined
  const systemRoot = platform.env.SystemRoot || platform.env.SYSTEMROOT || 'C:\\Windows'
  return { file: platform.path.join(systemRoot, 'System32', 'taskkill.exe'), args: ['/T', '/F', '/PID', String(pid)] }
}

/** A program named without an extension, found as cmd finds it: each PATH directory (or the given one) with each PATHEXT extension. */
export function resolveWindowsProgram(platform: Platform, program: string, exists: (path: string) => boolean): string {
  const { path, env } = platform
  if (path.extname(program) !== '') return program
  const extensions = (env.PATHEXT || '.COM;.EXE;.BAT;.CMD').split(';').filter((ext) => ext !== '')
  const hasDirectory = program.includes('\\') || program.includes('/')
  const directories = hasDirectory ? [''] : (env.Path ?? env.PATH ?? '').split(';').filter((dir) => dir !== '')
  for (const directory of directories) {
    for (const ext of extensions) {
      const candidate = directory === '' ? program + ext.toLowerCase() : path.join(directory, program + ext.toLowerCase())
      if (exists(candidate)) return candidate
    }
  }
  return program // not found: spawn reports ENOENT with the name the user wrote
}

/**
 * One argument of a batch file's command line, double-quoted for cmd; one cmd cannot take
 * literally (text/shell-quote/cmd.ts) is refused rather than passed.
 */
function cmdArgument(arg: string, program: string): string {
  return cmdQuote(arg, (what) => new CcredError('ERR_CONFIG', `exec: an argument of ${program} contains ${what}, which cannot be passed safely to a .cmd or .bat program`, {
    hint: 'call the program\'s .exe (or node and its script) directly, or drop ", %, ! and control characters',
  }))
}
