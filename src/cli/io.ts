import { writeSync } from 'node:fs'
import { CcredError, toCcredError } from '../errors.js'
import { sanitizeLine } from '../text/sanitize.js'
import { hostPlatform, type Platform } from '../platform.js'

/** What a command may touch; `main` gets the real process, tests can pass their own. */
export interface Io {
  env: Record<string, string | undefined>
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** The platform whose rules apply; the real one when absent (the CLI entry is an edge). Tests pass darwin or win32. */
  platform?: Platform
}

export function ioPlatform(io: Io): Platform {
  return io.platform ?? hostPlatform(io.env)
}

export const processIo: Io = { env: process.env, stdout: process.stdout, stderr: process.stderr }

/**
 * Writes straight to file descriptors 1 and 2, for the warm `get` path: creating
 * process.stdout's stream costs more than the one short line it carries. Falls
 * back to the stream when the pipe is full (EAGAIN); a reader that went away
 * (EPIPE) is ignored, as there is nobody left to tell.
 */
function directWriter(fd: 1 | 2, stream: () => NodeJS.WriteStream): Io['stdout'] {
  return {
    write(text: string) {
      let rest = Buffer.from(text, 'utf8')
      try {
        while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest))
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EAGAIN') stream().write(rest)
        else if (code !== 'EPIPE') throw error
      }
      return true
    },
  }
}

export const directIo: Io = { env: process.env, stdout: directWriter(1, () => process.stdout), stderr: directWriter(2, () => process.stderr) }

/**
 * One line on stderr: Claude Code shows a failing helper's stderr as the reason,
 * so the line says what went wrong, its code, and what to do next. Message and
 * hint quote config and upstream text, so they pass the terminal sanitizer.
 */
export function reportError(io: Io, error: unknown): number {
  const failure = toCcredError(error)
  const hint = failure.hint === undefined ? '' : ` — ${sanitizeLine(failure.hint)}`
  io.stderr.write(`ccred: ${sanitizeLine(failure.message)} [${failure.code}]${hint}\n`)
  return failure.exitCode
}

export function usageError(message: string, hint: string): CcredError {
  return new CcredError('ERR_USAGE', message, { hint })
}
