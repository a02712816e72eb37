import { existsSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CcredError } from '../errors.js'
import { standaloneBuild } from '../executable.js'
import { hostPlatform, type Platform } from '../platform.js'
import { ccredProgram, findOnPath, helperCommandLine, PORTABLE_CCRED_COMMAND, type CcredInstall } from './helper-command.js'

/** The built bin (dist/cmd/ccred.cjs), absolute. */
export function ccredBinPath(): string {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cmd', 'ccred.cjs')
  if (!existsSync(bin)) throw new CcredError('ERR_INTERNAL', `the ccred bin is not at ${bin}`, { hint: 'run npm run build in the ccred checkout, then try again' })
  return bin
}

/**
 * The executable's path to write into settings: the `ccred` on PATH when it is a link to
 * this very file (Homebrew's <prefix>/bin/ccred, a ~/.local/bin link), because that name
 * survives an upgrade that replaces the versioned file behind it; else the file itself.
 */
export function stableExecutablePath(executable: string, platform: Platform, real: (path: string) => string = realpathSync, exists: (path: string) => boolean = existsSync): string {
  const onPath = findOnPath(PORTABLE_CCRED_COMMAND, platform.env, platform, exists)
  try {
    if (onPath !== undefined && real(onPath) === real(executable)) return onPath
  } catch { /* a dangling link on PATH: keep the file */ }
  return executable
}

/**
 * The executable of the per-platform package (ccred-<os>-<arch>, an optional dependency of
 * the npm package) when npm installed it beside this build: helpers then run it, without node.
 */
function packagedExecutable(platform: Platform): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve(`ccred-${platform.os}-${process.arch}/package.json`)
    const file = join(dirname(manifest), 'bin', platform.os === 'win32' ? 'ccred.exe' : 'ccred')
    return existsSync(file) ? file : undefined
  } catch {
    return undefined
  }
}

/** How this ccred was installed, read at the edge: the executable running now, the packaged one, or node and the bin. */
export function thisInstall(platform: Platform = hostPlatform()): CcredInstall {
  if (standaloneBuild() !== undefined) return { kind: 'executable', path: stableExecutablePath(process.execPath, platform) }
  const packaged = packagedExecutable(platform)
  if (packaged !== undefined) return { kind: 'executable', path: packaged }
  return { kind: 'npm', nodePath: process.execPath, binPath: ccredBinPath() }
}

/** The command the user's own settings run: absolute paths, quoted for the platform's shell (helper-command.ts). */
export function ccredCommand(platform: Platform = hostPlatform()): string {
  return helperCommandLine(platform, thisInstall(platform))
}

/** The command a file of this kind runs: `ccred` from PATH in a file the project shares, else absolute. */
export function ccredCommandFor(shared: boolean, platform: Platform = hostPlatform()): string {
  return shared ? PORTABLE_CCRED_COMMAND : ccredCommand(platform)
}

/**
 * ccred as an argv, for hooks an agent execs directly without a shell (Codex's provider
 * `auth`): the same absolute programs as the command line (node and bin, or the executable), unquoted.
 */
export function ccredArgv(platform: Platform = hostPlatform()): [string, ...string[]] {
  const [program, ...rest] = ccredProgram(platform, thisInstall(platform))
  return [program!, ...rest]
}
