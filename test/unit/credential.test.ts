// A credential is tagged by what it is; output switches on the kind and the broker checks every string that goes out.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkCredential } from '../../src/broker/validate.js'
import { credentialBody, type Credential } from '../../src/credential.js'
import { CcredError } from '../../src/errors.js'
import { awsCredentialExport, credentialText, envVariables, headerValue, jsonOutput } from '../../src/output/format.js'

const NOW_MS = Date.parse('2026-11-30T12:00:00Z')
const aws = { kind: 'aws', accessKeyId: 'ASIA1', secretAccessKey: 'secret/key', sessionToken: 'session', expiresAt: '2026-11-30T18:00:00.000Z' } as const

describe('output by kind', () => {
  it('AWS credentials print as awsCredentialExport JSON, in the order Claude Code documents', () => {
    assert.equal(awsCredentialExport(aws), '{"Credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"secret/key","SessionToken":"session","Expiration":"2026-11-30T18:00:00.000Z"}}')
    assert.equal(credentialText(aws), awsCredentialExport(aws))
    assert.equal(headerValue(aws, 'authorization'), awsCredentialExport(aws))
    const { expiresAt: _none, ...noExpiry } = aws
    assert.equal(awsCredentialExport(noExpiry), '{"Credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"secret/key","SessionToken":"session"}}')
  })

  it('get --json carries the same text in value for every kind', () => {
    const json = JSON.parse(jsonOutput({ profile: 'p', source: 'aws', header: 'authorization', served: 'fetch', ...aws })) as { value: string; headerValue: string }
    assert.equal(json.value, awsCredentialExport(aws))
  })

  it('headers become ANTHROPIC_CUSTOM_HEADERS lines, and one JSON object as text', () => {
    const headers = { kind: 'headers', headers: { Authorization: 'Bearer a', 'X-Team': 'eng' } } as const
    assert.deepEqual(envVariables(headers, 'authorization'), { ANTHROPIC_CUSTOM_HEADERS: 'Authorization: Bearer a\nX-Team: eng' })
    assert.equal(credentialText(headers), '{"Authorization":"Bearer a","X-Team":"eng"}')
    assert.equal(headerValue(headers, 'proxy-authorization'), credentialText(headers))
  })

  it('the wire body keeps the secret parts and leaves dates and meta in the daemon', () => {
    const credential: Credential = { kind: 'token', value: 'tok', expiresAt: new Date(NOW_MS + 60_000), meta: { note: 'x' } }
    assert.deepEqual(credentialBody(credential), { kind: 'token', value: 'tok', scheme: 'Bearer' })
    assert.deepEqual(credentialBody({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'S' }), { kind: 'aws', accessKeyId: 'A', secretAccessKey: 'S' })
  })
})

describe('every string that goes out is checked', () => {
  const refused = (credential: Credential, what: RegExp) => {
    assert.throws(() => checkCredential(credential, 'profile p', NOW_MS), (error: CcredError) => {
      assert.equal(error.code, 'ERR_SOURCE_OUTPUT')
      assert.match(error.message, what)
      assert.ok(!error.message.includes('evil'), 'the value is not echoed')
      return true
    })
  }

  it('refuses a line break or control character in any AWS key, and an empty one', () => {
    refused({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'evil\nX-Injected: 1' }, /secret access key contains a line break/)
    refused({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'evil\u0001' }, /session token contains a control character/)
    refused({ kind: 'aws', accessKeyId: '', secretAccessKey: 'S' }, /empty access key id/)
  })

  it('refuses a header name or value that is not one printable line, and an empty set', () => {
    refused({ kind: 'headers', headers: { 'X-A': 'evil\r\nX-B: 1' } }, /header X-A contains a line break/)
    refused({ kind: 'headers', headers: { 'X-A\n': 'evil' } }, /header name contains a line break/)
    refused({ kind: 'headers', headers: {} }, /empty credential/)
  })

  // Each of these was a surviving mutant of src/broker/validate.ts (docs/mutation.md).
  it('each refusal says its own fault and hint, the value never quoted', () => {
    const cases: [Credential, string, string][] = [
      [{ kind: 'headers', headers: {} }, 'profile p: the source returned an empty credential', 'check the source; an empty key would be sent as no key at all'],
      [{ kind: 'token', value: '' }, 'profile p: the source returned an empty credential', 'check the source; an empty key would be sent as no key at all'],
      [{ kind: 'token', value: 'evil\nX: 1' }, 'profile p: the credential contains a line break; refused (it would inject a header)', 'the secret must be a single line; check the stored value or the command output'],
      [{ kind: 'token', value: 'evil\u0001' }, 'profile p: the credential contains a control character; refused', 'the secret must be printable text; check the stored value or the command output'],
      [{ kind: 'token', value: 'evil\u00e9' }, 'profile p: the credential contains a character outside visible ASCII (a server would receive other bytes); refused', 'an HTTP header carries ASCII only; check the stored value (for a user:password with other characters, use scheme = "basic")'],
      [{ kind: 'token', value: ' evil' }, 'profile p: the credential starts or ends with white space; refused', 'remove the surrounding spaces from the stored value'],
      [{ kind: 'headers', headers: { 'X A': 'v' } }, 'profile p: the source returned a header set with an invalid header name; refused', "a header name is letters, digits and !#$%&'*+-.^_`|~ only, at most 128 characters"],
      [{ kind: 'token', value: 'x'.repeat(16 * 1024 + 1) }, 'profile p: the credential is longer than 16 KiB; refused', 'check the source returns only the credential'],
      [{ kind: 'token', value: 't', expiresAt: new Date(Number.NaN) }, 'profile p: the source returned an expiry that is not a valid time', "check the source's expires_at / expires_in values"],
      [{ kind: 'token', value: 't', expiresAt: new Date(NOW_MS) }, `profile p: the source returned a credential that has already expired (${new Date(NOW_MS).toISOString()})`, "check the source's clock and the credential's lifetime"],
    ]
    for (const [credential, message, hint] of cases) {
      assert.throws(() => checkCredential(credential, 'profile p', NOW_MS), { code: 'ERR_SOURCE_OUTPUT', message, hint }, message)
    }
  })

  it('takes 16 KiB exactly and a credential valid one millisecond more; only a Basic token may hold non-ASCII, a non-string is empty', () => {
    checkCredential({ kind: 'token', value: 'x'.repeat(16 * 1024) }, 'profile p', NOW_MS)
    checkCredential({ kind: 'token', value: 't', expiresAt: new Date(NOW_MS + 1) }, 'profile p', NOW_MS)
    refused({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'evil\u00e9' }, /secret access key contains a character outside visible ASCII/)
    refused({ kind: 'token', value: 5 as unknown as string }, /^profile p: the source returned an empty credential$/)
  })

  it('accepts well-formed credentials of every kind', () => {
    checkCredential({ kind: 'token', value: 'tok' }, 'profile p', NOW_MS)
    checkCredential({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T', expiresAt: new Date(NOW_MS + 1000) }, 'profile p', NOW_MS)
    checkCredential({ kind: 'headers', headers: { Authorization: 'Bearer x' } }, 'profile p', NOW_MS)
  })
})
