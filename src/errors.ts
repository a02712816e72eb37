/**
 * Every failure a user can see is a CcredError: a stable code a script can switch
 * on, a one-line message that says what went wrong, a hint that says what to do
 * next, and the process exit code. The daemon sends them as JSON and the client
 * rebuilds them, so the user sees the same error in both modes.
 */

export const EXIT_CODES = {
  ERR_INTERNAL: 1,
  ERR_USAGE: 2,
  ERR_CONFIG: 3,
  ERR_PROFILE_UNKNOWN: 4,
  ERR_REFERENCE: 5,
  ERR_SOURCE_UNAVAILABLE: 6,
  ERR_SOURCE_DENIED: 7,
  ERR_SOURCE_OUTPUT: 8,
  ERR_LOGIN_REQUIRED: 9,
  ERR_KEYCHAIN_UNAVAILABLE: 10,
  ERR_DAEMON: 11,
  ERR_PROTOCOL: 12,
} as const

export type ErrorCode = keyof typeof EXIT_CODES

export interface CcredErrorJson {
  code: ErrorCode
  message: string
  hint?: string
}

export class CcredError extends Error {
  readonly code: ErrorCode
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CcredError'
    this.code = code
    this.hint = options.hint
  }

  get exitCode(): number {
    return EXIT_CODES[this.code]
  }

  toJSON(): CcredErrorJson {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint }
  }

  static fromJSON(json: unknown): CcredError {
    if (typeof json === 'object' && json !== null) {
      const { code, message, hint } = json as Record<string, unknown>
      if (typeof code === 'string' && code in EXIT_CODES && typeof message === 'string') {
        return new CcredError(code as ErrorCode, message, typeof hint === 'string' ? { hint } : {})
      }
    }
    return new CcredError('ERR_PROTOCOL', 'the daemon sent an error ccred does not understand', {
      hint: 'run: ccred daemon stop   (the next command starts a matching daemon)',
    })
  }
}

/** Wraps anything thrown into a CcredError, keeping an existing one as it is. */
export function toCcredError(error: unknown, context?: string): CcredError {
  if (error instanceof CcredError) return error
  const detail = error instanceof Error ? error.message : String(error)
  return new CcredError('ERR_INTERNAL', context === undefined ? detail : `${context}: ${detail}`, {
    hint: 'this is a bug in ccred; please report it with the output of: ccred status',
    cause: error,
  })
}

/** Prefixes the message of a CcredError with context ("profile x: ..."), keeping code and hint. */
export function withContext(error: unknown, context: string): CcredError {
  const base = toCcredError(error)
  if (base.message.startsWith(`${context}:`)) return base
  const hint = base.hint
  return new CcredError(base.code, `${context}: ${base.message}`, hint === undefined ? { cause: base } : { hint, cause: base })
}
