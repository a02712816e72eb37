import { isatty } from 'node:tty'
import { isUnreachable, requestFromDaemon } from '../client/daemon-request.js'
import { runGet } from './get.js'
import { parseWarmGet } from './parse-warm-get.js'
import { isCcredError } from '../errors.js'
import { reportError, type Io } from './io.js'

/** Thrown inside the warm path to hand over to the full CLI. */
class HandOver extends Error {}

/**
 * The warm path of `ccred get`: a plain command line and a running daemon. It is
 * bundled into the `ccred` bin as one CommonJS file, so Claude Code's helper runs
 * cost little more than starting node. Returns undefined for everything else
 * (no daemon yet, CCRED_NO_DAEMON, unusual arguments, --help): the full CLI then
 * runs and does the same work with autostart and fallbacks.
 */
export async function warmGet(args: string[], io: Io): Promise<number | undefined> {
  if (args[0] !== 'get' || io.env.CCRED_NO_DAEMON === '1') return undefined
  const parsed = parseWarmGet(args.slice(1))
  if (parsed === undefined) return undefined
  try {
    return await runGet(parsed.profile, parsed.options, io, async (query, env) => {
      const result = await requestFromDaemon(query, env)
      if (isUnreachable(result)) throw new HandOver()
      return result
    })
  } catch (error) {
    if (error instanceof HandOver) return undefined
    // A person at a terminal may have login = "auto": the full CLI decides whether to sign in.
    // Claude Code's helper runs (stdin a pipe) get the error at once.
    if (isCcredError(error, 'ERR_LOGIN_REQUIRED') && isatty(0)) return undefined
    return reportError(io, error)
  }
}
