import assert from 'node:assert/strict'
import type { Credential } from '../../src/credential.js'
import { credentialText } from '../../src/output/format.js'
import type { IssuedCredential } from '../../src/protocol.js'

/** An issued credential with its text as `get --json` prints it in `value` (a token, or AWS credentials as JSON). */
export function withText(issued: IssuedCredential): IssuedCredential & { value: string } {
  return { ...issued, value: credentialText(issued) }
}

/** The value of a credential the test's source makes as a token. */
export function tokenValue(credential: Credential): string {
  assert.equal(credential.kind, 'token')
  return credential.value
}
