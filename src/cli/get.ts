import { headerFor, helperHook } from '../callers/claude-code.js'
import type { CredentialFetcher } from '../client/credentials.js'
import type { Header } from '../config/settings.js'
import { CcredError } from '../errors.js'
import { headerValue, jsonOutput } from '../output/format.js'
import { headersOutput } from '../output/headers.js'
import { usageError, type Io } from './io.js'
import { sanitizeLine } from '../text/sanitize.js'

export interface GetOptions {
  refresh?: boolean
  header?: string
  json?: boolean
  /** "headers": one JSON object of header names and values (MCP headersHelper, otelHeadersHelper). */
  format?: string
}

export const GET_FORMATS = ['value', 'headers'] as const

/** The one check of `--format`. */
export function parseFormatOption(value: string | undefined): 'value' | 'headers' {
  if (value === undefined || value === 'value') return 'value'
  if (value === 'headers') return 'headers'
  throw usageError(`--format must be "value" or "headers", not "${value.slice(0, 40)}"`, 'headers: one JSON object for an MCP headersHelper or otelHeadersHelper')
}

/** The one check of a `--header` option (get, env, exec); the daemon never sees it. */
export function parseHeaderOption(value: string | undefined): Header | undefined {
  if (value === undefined) return undefined
  const normalized = value.toLowerCase()
  if (normalized === 'authorization' || normalized === 'proxy-authorization') return normalized
  throw usageError(`--header must be "authorization" or "proxy-authorization", not "${value.slice(0, 40)}"`, 'see: ccred get --help')
}

/**
 * `ccred get <profile>`: the credential and one newline on stdout, nothing else.
 * Never reads stdin (Claude Code leaves it open) and never prompts. Which header
 * the value is printed for is decided here, after the answer: `--header`, else
 * Claude Code's proxyAuthHelper context, else the profile's header.
 */
export async function runGet(profile: string, options: GetOptions, io: Io, fetchCredential: CredentialFetcher): Promise<number> {
  const format = parseFormatOption(options.format)
  if (format === 'headers' && (options.json === true || options.header !== undefined)) throw usageError('--format headers prints the header set; it goes with neither --json nor --header', 'the profile\'s headers = { … } table names the headers')
  const headerSet = format === 'headers'
  const explicitHeader = parseHeaderOption(options.header)
  const issued = await fetchCredential(
    {
      // How long the caller keeps the value and whether it was refused: the daemon asks the caller's kind (src/callers/).
      profile,
      forceRefresh: options.refresh === true,
      ...(headerSet ? { headerSet } : {}),
    },
    io.env,
    (line) => io.stderr.write(`${sanitizeLine(line)}\n`),
  )
  if (issued.warning !== undefined) io.stderr.write(`ccred: warning: ${sanitizeLine(issued.warning)}\n`)
  if (headerSet) {
    if (issued.kind !== 'headers') throw new CcredError('ERR_PROTOCOL', 'the daemon answered without the header set', { hint: 'the daemon may be an older ccred; run: ccred daemon stop' })
    io.stdout.write(headersOutput(issued.headers))
    return 0
  }
  const printed = { ...issued, header: headerFor(helperHook(io.env), explicitHeader, issued.header) }
  io.stdout.write(options.json ? jsonOutput(printed) : `${headerValue(printed, printed.header)}\n`)
  return 0
}
