import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { disableCoreDumps } from '../rendezvous/core-dumps.js'
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
export async function runExec(profile: string, commandArgs: string[], options: { header?: string }, io: Io): Promise<number> {
  const command = commandArgs[0] === '--' ? commandArgs.slice(1) : commandArgs
  if (command.length === 0) {
    throw new CcredError('ERR_USAGE', 'no command to run', { hint: 'usage: ccred exec <profile> -- <command> [args...]' })
  }
  // This process and the command hold the credential in memory and environment: no core dumps, like the daemon.
  const platform = ioPlatform(io)
  const coreProblem = disableCoreDumps()
  // Without prlimit (or outside Linux, where Node cannot lower its own limit) the command is
  // started through the shell's `ulimit -c 0`, so it never inherits a core limit above zero.
  const limitThroughShell = platform.os !== 'win32' && (coreProblem !== undefined || platform.os !== 'linux')
  if (coreProblem !== undefined) io.stderr.write(`ccred: warning: ${coreProblem.replace('run the daemon under', 'run ccred exec under').replace(/^core dumps could not be turned off/, "ccred's own core dumps could not be turned off (the command runs under ulimit -c 0)")}\n`)
  const variables = await issuedVariables(profile, options.header, io)
  const childEnv: Record<string, string | undefined> = { ...io.env }
  for (const name of SCRUBBED) delete childEnv[name]
  Object.assign(childEnv, variables)
  // Windows: a bare name through Path and PATHEXT, a .cmd shim (claude.cmd) through %ComSpec%.
  const invocation = execInvocation(platform, command, false)
  const how = limitThroughShell ? underCoreLimitZero(invocation.file, invocation.args) : invocation
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

/**
 * `file args…` started by `/bin/sh` after `ulimit -c 0` (soft and hard): the shell then
 * execs the command in its own place (same pid, signals reach it). The argv is passed as
 * the shell's positional parameters, never written into the script, so no argument is
 * ever read as shell code.
 */
export function underCoreLimitZero(file: string, args: string[]): { file: string; args: string[]; windowsVerbatimArguments: boolean } {
  return { file: '/bin/sh', args: ['-c', 'ulimit -c 0 && exec "$@"', 'sh', file, ...args], windowsVerbatimArguments: false }
}
