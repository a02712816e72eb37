import { CcredError } from '../errors.js'
import { credentialStrings, type Credential } from '../credential.js'
import { hasControlChars } from '../text/sanitize.js'

const MAX_CREDENTIAL_CHARS = 16 * 1024

/**
 * A credential becomes an HTTP header value. A newline or control character
 * would be a header injection (and Claude Code fails every request on it), so it
 * is refused whatever the source.
 */
export function checkCredential(credential: Credential, where: string, nowMs: number): void {
  const strings = credentialStrings(credential)
  if (strings.length === 0) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned an empty credential`, { hint: 'check the source; an empty key would be sent as no key at all' })
  }
  for (const { what, text } of strings) checkText(text, what, where)
  // An expiry past the Date range ("expires_in": 1e308) is an Invalid Date: it would pass the
  // check below (NaN <= now is false) and then break the TTL maths and status output.
  if (credential.expiresAt !== undefined && !Number.isFinite(credential.expiresAt.getTime())) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned an expiry that is not a valid time`, {
      hint: "check the source's expires_at / expires_in values",
    })
  }
  if (credential.expiresAt !== undefined && credential.expiresAt.getTime() <= nowMs) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned a credential that has already expired (${credential.expiresAt.toISOString()})`, {
      hint: "check the source's clock and the credential's lifetime",
    })
  }
}

/** One string that goes out (a token, a key, a header): one line of printable text. */
function checkText(value: string, what: string, where: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned an empty ${what}`, { hint: 'check the source; an empty key would be sent as no key at all' })
  }
  if (/[\r\n]/.test(value)) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} contains a line break; refused (it would inject a header)`, {
      hint: 'the secret must be a single line; check the stored value or the command output',
    })
  }
  // C1 controls too: U+009B is a CSI to many terminals, and a header value carries none of them.
  if (hasControlChars(value)) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} contains a control character; refused`, {
      hint: 'the secret must be printable text; check the stored value or the command output',
    })
  }
  if (value.length > MAX_CREDENTIAL_CHARS) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} is longer than 16 KiB; refused`, { hint: 'check the source returns only the credential' })
  }
  if (value !== value.trim()) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} starts or ends with white space; refused`, { hint: 'remove the surrounding spaces from the stored value' })
  }
}
