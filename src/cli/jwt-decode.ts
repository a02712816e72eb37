import { CcredError, EXIT_CODES } from '../errors.js'
import type { Io } from './io.js'
import { stringifyJsonSafely } from '../text/sanitize.js'

const MAX_TOKEN_BYTES = 64 * 1024

export interface TokenInput {
  isTTY: boolean
  readAll(maxBytes: number): Promise<string>
}

/**
 * `ccred jwt decode`: header and claims of a token read from stdin (a token is a
 * secret, so never from argv). Nothing is verified, and it says so on stderr.
 */
export async function runJwtDecode(io: Io, input: TokenInput): Promise<number> {
  if (input.isTTY) {
    throw new CcredError('ERR_USAGE', 'ccred jwt decode reads the token from stdin, and stdin is a terminal', {
      hint: 'pipe it in: ccred get <profile> | ccred jwt decode',
    })
  }
  const token = (await input.readAll(MAX_TOKEN_BYTES)).trim().replace(/^Bearer\s+/i, '')
  if (token === '') throw new CcredError('ERR_USAGE', 'no token on stdin', { hint: 'pipe it in: ccred get <profile> | ccred jwt decode' })
  const { decodeJwt, decodeProtectedHeader } = await import('jose')
  let header: Record<string, unknown>
  let claims: Record<string, unknown>
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>
    claims = decodeJwt(token) as Record<string, unknown>
  } catch (error) {
    // jose's message names the part that is wrong; it never includes the token.
    throw new CcredError('ERR_USAGE', `stdin is not a signed JWT: ${(error as Error).message}`, { cause: error, hint: 'a JWT is three base64url parts joined by dots: header.claims.signature' })
  }
  const times: Record<string, string> = {}
  for (const name of ['iat', 'nbf', 'exp'] as const) {
    const seconds = claims[name]
    if (typeof seconds === 'number' && Number.isFinite(seconds)) times[name] = new Date(seconds * 1000).toISOString()
  }
  // Whoever made the token chose the claims: C1 and bidi controls are escaped like C0 ones.
  io.stdout.write(`${stringifyJsonSafely({ header, claims, times, verified: false }, 2)}\n`)
  io.stderr.write('ccred: not verified: this shows what the token claims, not that it is genuine (the gateway checks the signature)\n')
  return EXIT_CODES.OK
}
