import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CcredError } from '../errors.js'
import { hostPlatform, stableNodePath, type Platform } from '../platform.js'
import { helperCommandLine, PORTABLE_CCRED_COMMAND } from './helper-command.js'

/** The built bin (dist/cmd/ccred.cjs), absolute. */
export function ccredBinPath(): string {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cmd', 'ccred.cjs')
  if (!existsSync(bin)) throw new CcredError('ERR_INTERNAL', `the ccred bin is not at ${bin}`, { hint: 'run npm run build in the ccred checkout, then try again' })
  return bin
}

/** The command the user's own settings run: absolute node and absolute bin, quoted for the platform's shell (helper-command.ts). */
export function ccredCommand(platform: Platform = hostPlatform()): string {
  return helperCommandLine(platform, process.execPath, ccredBinPath())
}

/** The command a file of this kind runs: `ccred` from PATH in a file the project shares, else absolute. */
export function ccredCommandFor(shared: boolean, platform: Platform = hostPlatform()): string {
  return shared ? PORTABLE_CCRED_COMMAND : ccredCommand(platform)
}

/**
 * ccred as an argv, for hooks an agent execs directly without a shell (Codex's provider
 * `auth`): the same absolute node and bin as the command line, unquoted.
 */
export function ccredArgv(platform: Platform = hostPlatform()): [string, ...string[]] {
  const node = stableNodePath(process.execPath, existsSync, platform)
  return [node, ccredBinPath()]
}
