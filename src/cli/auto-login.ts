import type { Io } from './io.js'
import { decideBrowser, isCi } from '../oidc/browser.js'
import { sanitizeLine } from '../text/sanitize.js'
import { EXIT_CODES } from '../errors.js'
import { HOST_OS } from '../platform.js'

export interface Terminal {
  stdinIsTTY: boolean
  stderrIsTTY: boolean
}

/**
 * May `get` start a login by itself (`login = "auto"`)? Only for a person at a
 * terminal who can use a browser: never in CI, never without a TTY on stdin and
 * stderr. Claude Code runs the helper with stdin a pipe, so under Claude Code the
 * answer is always no and `get` fails at once with the hint instead of waiting.
 */
export function autoLoginAllowed(env: Record<string, string | undefined>, terminal: Terminal, platform: NodeJS.Platform = HOST_OS): { allowed: boolean; reason: string } {
  if (!terminal.stdinIsTTY || !terminal.stderrIsTTY) return { allowed: false, reason: 'not at a terminal' }
  if (isCi(env)) return { allowed: false, reason: 'running in CI' }
  const browser = decideBrowser(env, platform)
  if (!browser.launch) return { allowed: false, reason: browser.reason }
  return { allowed: true, reason: 'a person at a terminal with a browser' }
}

/**
 * After `get` met ERR_LOGIN_REQUIRED: signs in when the profile says `login = "auto"`
 * and a person can; true when it did (the caller asks once more).
 */
export async function loginIfAutomatic(profileName: string, io: Io, terminal: Terminal): Promise<boolean> {
  if (!autoLoginAllowed(io.env, terminal).allowed) return false
  const [{ withInProcessService }, { runLogin }] = await Promise.all([import('../client/in-process.js'), import('./login.js')])
  const automatic = await withInProcessService(io.env, async (service) => {
    const profile = await service.config.profile(profileName)
    return profile.source.loginTarget()?.login === 'auto'
  })
  if (!automatic) return false
  io.stderr.write(`ccred: profile ${sanitizeLine(profileName)} needs a login (login = "auto"): starting it\n`)
  return (await runLogin(profileName, {}, io)) === EXIT_CODES.OK
}
