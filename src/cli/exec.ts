import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { disableCoreDumps } from '../daemon/core-dumps.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { sanitizeLine } from '../text/sanitize.js'
import { issuedVariables } from './env.js'
import { execInvocation } from '../sources/exec-invocation.js'
import { ioPlatform, type Io } from './io.js'

/** Inherited credentials that would compete with ours (Claude Code prefers them over a helper). */
const SCRUBBED = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN']

/**
 * `ccred exec <profile> -- CMD ARGS…`: runs CMD with the credential in its
 * environment, after removing inherited ones; exits with CMD's status.
 */
export async function runExec(profile: string, commandArgs: string[], options: { header?: string; relay?: boolean; for?: string; upstream?: string }, io: Io): Promise<number> {
  const command = commandArgs[0] === '--' ? commandArgs.slice(1) : commandArgs
  if (command.length === 0) {
    throw new CcredError('ERR_USAGE', 'no command to run', { hint: 'usage: ccred exec <profile> -- <command> [args...]' })
  }
  // This process and the command hold the credential in memory and environment: no core dumps, like the daemon.
  const coreProblem = disableCoreDumps()
  if (coreProblem !== undefined) io.stderr.write(`ccred: warning: ${coreProblem.replace('run the daemon under', 'run ccred exec under')}\n`)
  // --relay: the child gets a loopback route and its local key, never the credential (docs/relay.md).
  const route = options.relay === true ? await (await import('./relay.js')).openChildRoute(profile, options, io) : undefined
  const variables = route?.variables ?? await issuedVariables(profile, options.header, io)
  const childEnv: Record<string, string | undefined> = { ...io.env }
  for (const name of route === undefined ? SCRUBBED : [...SCRUBBED, ...RELAY_SCRUBBED]) delete childEnv[name]
  Object.assign(childEnv, variables)
  try {
    return await runChild(command, childEnv, io)
  } finally {
    await route?.close()
  }
}

/** Keys a client would prefer over (or send beside) the relay's local key. */
const RELAY_SCRUBBED = ['GOOGLE_API_KEY', 'GOOGLE_GENAI_USE_VERTEXAI', 'ANTHROPIC_CUSTOM_HEADERS']

function runChild(command: string[], childEnv: Record<string, string | undefined>, io: Io): Promise<number> {
  // Windows: a bare name through Path and PATHEXT, a .cmd shim (claude.cmd) through %ComSpec%.
  const how = execInvocation(ioPlatform(io), command, false)
  return new Promise((resolve) => {
    const child = spawn(how.file, how.args, { stdio: 'inherit', env: childEnv as NodeJS.ProcessEnv, windowsVerbatimArguments: how.windowsVerbatimArguments })
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
    for (const signal of signals) process.on(signal, forward)
    const done = (code: number) => {
      for (const signal of signals) process.off(signal, forward)
      resolve(code)
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      io.stderr.write(`ccred: ${sanitizeLine(`cannot run ${command[0]}: ${error.code === 'ENOENT' ? 'command not found' : error.message}`)} [ERR_USAGE] — check the command name and PATH\n`)
      done(error.code === 'ENOENT' ? EXIT_CODES.EXEC_COMMAND_NOT_FOUND : EXIT_CODES.EXEC_COMMAND_NOT_EXECUTABLE)
    })
    child.on('exit', (code, signal) => {
      done(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)))
    })
  })
}
