import { CcredError, toCcredError } from '../errors.js'

/** What a command may touch; `main` gets the real process, tests can pass their own. */
export interface Io {
  env: Record<string, string | undefined>
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

export const processIo: Io = { env: process.env, stdout: process.stdout, stderr: process.stderr }

/**
 * One line on stderr: Claude Code shows a failing helper's stderr as the reason,
 * so the line says what went wrong, its code, and what to do next.
 */
export function reportError(io: Io, error: unknown): number {
  const failure = toCcredError(error)
  const hint = failure.hint === undefined ? '' : ` — ${failure.hint}`
  io.stderr.write(`ccred: ${failure.message} [${failure.code}]${hint}\n`)
  return failure.exitCode
}

export function usageError(message: string, hint: string): CcredError {
  return new CcredError('ERR_USAGE', message, { hint })
}
