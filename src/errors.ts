/**
 * Every failure a user can see is a CcredError: a stable code a script can switch
 * on, a one-line message that says what went wrong, a hint that says what to do
 * next, and the process exit code. The daemon sends them as JSON and the client
 * rebuilds them, so the user sees the same error in both modes.
 */

/** The exit code of each error code; scripts switch on either. */
export const ERROR_EXIT_CODES = {
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

/**
 * Every exit code ccred itself chooses, in one table (docs/troubleshooting.md#exit-codes and
 * `ccred --help` list the same). `exec` passes its command's own status through.
 */
export const EXIT_CODES = {
  OK: 0,
  ...ERROR_EXIT_CODES,
  /** `ccred doctor` found something that would break an agent's credential (Claude Code, Codex). */
  DOCTOR_FOUND_PROBLEMS: 13,
  /** `ccred exec`: the command exists but cannot be run (the shell's convention). */
  EXEC_COMMAND_NOT_EXECUTABLE: 126,
  /** `ccred exec`: no such command (the shell's convention). */
  EXEC_COMMAND_NOT_FOUND: 127,
} as const

export type ErrorCode = keyof typeof ERROR_EXIT_CODES

/**
 * The failures that only pass by themselves (a network blip, an upstream that is down, a
 * locked keychain, a daemon restarting): worth retrying with backoff. Every other code
 * waits for a person (a config edit, a login, a policy change) and is terminal, as
 * aws-sdk's providers say with tryNextLink: retrying it only hammers the upstream.
 */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_SOURCE_UNAVAILABLE', 'ERR_KEYCHAIN_UNAVAILABLE', 'ERR_DAEMON', 'ERR_INTERNAL'])

/**
 * Facts about a failure that a caller acts on, so nobody parses a message for them.
 * Never a secret: these are shown nowhere, but may be logged one day.
 */
export interface CcredErrorDetail {
  /** The HTTP status an upstream (Vault, an identity provider, a cloud API) answered with. */
  readonly httpStatus?: number
  /** The OAuth error code an identity provider returned (RFC 6749 section 5.2), e.g. "invalid_grant". */
  readonly oauthError?: string
}

export interface CcredErrorOptions {
  hint?: string
  /** The error this one wraps; kept so a debugger or a log sees the original. */
  cause?: unknown
  detail?: CcredErrorDetail
}

export interface CcredErrorJson {
  code: ErrorCode
  message: string
  hint?: string
}

export class CcredError extends Error {
  readonly code: ErrorCode
  readonly hint: string | undefined
  readonly detail: CcredErrorDetail

  constructor(code: ErrorCode, message: string, options: CcredErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CcredError'
    this.code = code
    this.hint = options.hint
    this.detail = options.detail ?? {}
  }

  get exitCode(): number {
    return ERROR_EXIT_CODES[this.code]
  }

  /** False when retrying cannot help until someone acts (see RETRYABLE_CODES). */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code)
  }

  toJSON(): CcredErrorJson {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint }
  }

  static fromJSON(json: unknown): CcredError {
    if (typeof json === 'object' && json !== null) {
      const { code, message, hint } = json as Record<string, unknown>
      if (typeof code === 'string' && Object.hasOwn(ERROR_EXIT_CODES, code) && typeof message === 'string') {
        return new CcredError(code as ErrorCode, message, typeof hint === 'string' ? { hint } : {})
      }
    }
    return new CcredError('ERR_PROTOCOL', 'the daemon sent an error ccred does not understand', {
      hint: 'run: ccred daemon stop   (the next command starts a matching daemon)',
    })
  }
}

/**
 * True when `error` is a CcredError (with this code, when one is given): the one
 * way to ask "is this ccred's error X" instead of reading `.code` off anything.
 */
export function isCcredError<Code extends ErrorCode>(error: unknown, code?: Code): error is CcredError & { readonly code: Code } {
  return error instanceof CcredError && (code === undefined || error.code === code)
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
  return new CcredError(base.code, `${context}: ${base.message}`, { ...(base.hint === undefined ? {} : { hint: base.hint }), cause: base, detail: base.detail })
}

/**
 * Warnings have stable codes too: a warning is one stderr line a script or a person
 * may act on (Claude Code shows a helper's stderr), so it carries a code like an error.
 */
export const WARNING_CODES = [
  /** The daemon could not be used; the value was fetched in this process (no shared cache). */
  'WARN_DAEMON_FALLBACK',
  /** The source's credentials live shorter than the caller keeps them. */
  'WARN_SHORT_LIFETIME',
  /** A running daemon kept a cached value that should have been dropped. */
  'WARN_CACHE_NOT_DROPPED',
  /** A forced refresh or re-issue was refused by the profile's upstream budget; the cached value was served. */
  'WARN_REFRESH_BUDGET',
] as const
export type WarningCode = (typeof WARNING_CODES)[number]

/** A warning's text with its code, for warnings that travel inside another message (the daemon's answer, `status`). */
export function codedWarning(code: WarningCode, text: string): string {
  return `${text} [${code}]`
}

/** The one shape of a warning line: `ccred: warning: <message> [WARN_…] — <hint>` (no newline). */
export function warningLine(code: WarningCode, message: string, hint?: string): string {
  return `ccred: warning: ${message} [${code}]${hint === undefined ? '' : ` — ${hint}`}`
}
