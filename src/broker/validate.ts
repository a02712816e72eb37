import { CcredError } from '../errors.js'
import { credentialStrings, type Credential } from '../credential.js'
import { describeHeaderValueFault, headerValueFault, isHeaderName } from '../text/header-grammar.js'

const MAX_CREDENTIAL_CHARS = 16 * 1024

/**
 * A credential becomes an HTTP header value: every string in it must be one by the header
 * grammar (text/header-grammar.ts). A newline or control character would be a header
 * injection (and Claude Code fails every request on it), so it is refused whatever the
 * source. A Basic credential's user:password goes out in base64, so it may hold any
 * printable text; a header set's names must be header names.
 */
export function checkCredential(credential: Credential, where: string, nowMs: number): void {
  const strings = credentialStrings(credential)
  if (strings.length === 0) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned an empty credential`, { hint: 'check the source; an empty key would be sent as no key at all' })
  }
  const encoded = credential.kind === 'token' && credential.scheme === 'Basic'
  for (const { what, text } of strings) checkText(text, what, where, encoded)
  if (credential.kind === 'headers') {
    for (const name of Object.keys(credential.headers)) {
      if (!isHeaderName(name)) {
        throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned a header set with an invalid header name; refused`, {
          hint: "a header name is letters, digits and !#$%&'*+-.^_`|~ only, at most 128 characters",
        })
      }
    }
  }
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

/** One string that goes out (a token, a key, a header value): a header value by the grammar, at most 16 KiB. */
function checkText(value: string, what: string, where: string, encoded: boolean): void {
  const fault = typeof value === 'string' ? headerValueFault(value, { encoded }) : 'empty'
  switch (fault) {
    case undefined:
      break
    case 'empty':
      throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the source returned an empty ${what}`, { hint: 'check the source; an empty key would be sent as no key at all' })
    case 'line-break':
      throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} ${describeHeaderValueFault(fault)}; refused (it would inject a header)`, {
        hint: 'the secret must be a single line; check the stored value or the command output',
      })
    case 'control':
      // C1 controls too: U+009B is a CSI to many terminals, and a header value carries none of them.
      throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} ${describeHeaderValueFault(fault)}; refused`, {
        hint: 'the secret must be printable text; check the stored value or the command output',
      })
    case 'not-ascii':
      throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} ${describeHeaderValueFault(fault)}; refused`, {
        hint: 'an HTTP header carries ASCII only; check the stored value (for a user:password with other characters, use scheme = "basic")',
      })
    case 'surrounding-space':
      throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} ${describeHeaderValueFault(fault)}; refused`, { hint: 'remove the surrounding spaces from the stored value' })
  }
  if (value.length > MAX_CREDENTIAL_CHARS) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `${where}: the ${what} is longer than 16 KiB; refused`, { hint: 'check the source returns only the credential' })
  }
}
