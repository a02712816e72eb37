import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MIN_REDACTED_RUN_IN_MESSAGES, redactorFor, redactSecrets, secretForms, secretPartsOf } from '../../src/text/redact.js'

const SECRET = 'sk-live/9f8e"7d6c+5b4a=3921&zz'

/** Every way a helper prints a secret that the redaction must catch (the user part of a Basic pair is not secret). */
function encodingsOf(secret: string): Record<string, string> {
  return {
    plain: secret,
    json: JSON.stringify(secret).slice(1, -1),
    url: encodeURIComponent(secret),
    base64: Buffer.from(secret).toString('base64'),
    base64url: Buffer.from(secret).toString('base64url'),
    basicUserPass: Buffer.from(`alice:${secret}`).toString('base64'),
    basicUserPassShifted: Buffer.from(`al:${secret}`).toString('base64'),
  }
}

describe('redaction knows the forms a helper prints a secret in', () => {
  for (const [form, encoded] of Object.entries(encodingsOf(SECRET))) {
    it(`${form}: redacted, the text around kept`, () => {
      const out = redactSecrets(`refresh of ${encoded} refused`, [SECRET])
      assert.ok(!out.includes(encoded), out)
      // No run of 8 characters of the encoded secret is left (past the encoded user name of a Basic pair).
      const userChars = form === 'basicUserPass' ? 8 : form === 'basicUserPassShifted' ? 4 : 0
      for (let i = userChars; i + 8 <= encoded.length; i++) assert.ok(!out.includes(encoded.slice(i, i + 8)), `${out} keeps ${encoded.slice(i, i + 8)}`)
      assert.match(out, /^refresh of .*\[redacted\].* refused$/)
    })
  }

  it('any Basic or Bearer credential is redacted whoever it belongs to (a curl -v line)', () => {
    const line = '> Authorization: Basic dXNlcjpwYXNzd29yZA== and < Proxy-Authorization: Bearer abc.def.ghi-jkl'
    assert.equal(redactSecrets(line, []), '> Authorization: Basic [redacted] and < Proxy-Authorization: Bearer [redacted]')
  })

  it('prose around the words Basic and Bearer stays', () => {
    for (const prose of ['Bearer auth failed: basic setup', 'Basic authentication failed', 'Bearer authentication required']) assert.equal(redactSecrets(prose, []), prose)
  })

  it('a short secret (4–7 chars) is redacted only whole; shorter ones are left', () => {
    assert.equal(redactSecrets('pin 4711 and abc', ['4711', 'abc']), 'pin [redacted] and abc')
  })

  it('the forms of a secret include its base64 at every alignment inside a longer blob', () => {
    const forms = secretForms('0123456789abcdef')
    for (const prefix of ['', 'u:', 'us:', 'use:']) {
      const blob = Buffer.from(`${prefix}0123456789abcdef`).toString('base64')
      assert.ok(forms.some((form) => form.length >= 8 && blob.includes(form)), `${prefix}: ${blob}`)
    }
  })
})

describe('what of a resolved reference is secret', () => {
  it('a plain value whole; of a JSON key file only the values under secret-looking keys', () => {
    assert.deepEqual(secretPartsOf('sk-plain'), ['sk-plain'])
    const key = JSON.stringify({ type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', private_key_id: 'abc123', private_key: '-----BEGIN PRIVATE KEY-----x', token_uri: 'https://oauth2.googleapis.com/token', nested: { refresh_token: 'rt-1' } })
    assert.deepEqual(secretPartsOf(key), ['abc123', '-----BEGIN PRIVATE KEY-----x', 'rt-1'])
  })
})

describe('the last pass over a finished message', () => {
  it('a secret with a word in it does not eat that word from ccred\'s own text, but still goes itself', () => {
    const secret = 'discovery-test-client-secret-canary'
    const message = `oidc: discovery of https://idp failed: sent ${secret}`
    assert.equal(redactSecrets(message, [secret], MIN_REDACTED_RUN_IN_MESSAGES), 'oidc: discovery of https://idp failed: sent [redacted]')
  })
})

// Each of these was a mutant of src/text/redact.ts that no test caught (docs/mutation.md).
describe('redaction at its edges', () => {
  it('a secret printed as is goes whole, its quote included, and a secret at the very start is marked too', () => {
    const secret = 'ab"cdefghijkl'
    assert.equal(redactSecrets(`x ${secret} y`, [secret]), 'x [redacted] y')
    assert.equal(redactSecrets(`${secret} leaked`, [secret]), '[redacted] leaked')
  })

  it('a cut-off secret (a prefix of 8 or more characters) is redacted; a short secret in JSON keeps its quotes', () => {
    assert.equal(redactSecrets(`error: ${SECRET.slice(0, 12)}…`, [SECRET]), 'error: [redacted]…')
    assert.equal(redactSecrets('{"pin":"ab\\"cd"}', ['ab"cd']), '{"pin":"[redacted]"}')
  })

  it('a secret with spaces in a form body (spaces as +) is redacted', () => {
    assert.equal(redactSecrets('body: password=my+secret+pass', ['my secret pass']), 'body: password=[redacted]')
  })

  it('a secret of exactly 8 characters inside a Basic blob at another alignment is redacted', () => {
    for (const user of ['a:', 'b']) {
      const blob = Buffer.from(`${user}12345678`).toString('base64')
      assert.match(redactSecrets(`blob ${blob}`, ['12345678']), /^blob .{0,3}\[redacted\].{0,3}$/, blob)
    }
  })

  it('Bearer: a word of 20 letters is a credential, of 19 it is prose; any run of white space after the scheme', () => {
    assert.equal(redactSecrets('Bearer abcdefghijklmnopqrst', []), 'Bearer [redacted]')
    assert.equal(redactSecrets('Bearer abcdefghijklmnopqrs', []), 'Bearer abcdefghijklmnopqrs')
    assert.equal(redactSecrets('Authorization: Bearer   abc.def.ghi-jkl', []), 'Authorization: Bearer   [redacted]')
  })

  it('Basic (any case): only what decodes to user:password is a credential, not a word with a digit or a dash', () => {
    assert.equal(redactSecrets('basic auth-method-2 unsupported', []), 'basic auth-method-2 unsupported')
    assert.equal(redactSecrets('authorization: basic dXNlcjpwYXNzd29yZA==', []), 'authorization: basic [redacted]')
  })

  it('of a resolved reference: a number-like value, padded or broken JSON whole; arrays and nesting walked; null and numbers skipped', () => {
    assert.deepEqual(secretPartsOf('12345678'), ['12345678'])
    assert.deepEqual(secretPartsOf('{not json'), ['{not json'])
    assert.deepEqual(secretPartsOf('  {"token": "t0k"}  '), ['t0k'])
    assert.deepEqual(secretPartsOf('{"keys": ["k1", "k2"], "password": null, "secret": 5, "name": "n"}'), ['k1', 'k2'])
    // A key names a place only when it ends in _uri or _url.
    assert.deepEqual(secretPartsOf('{"token_uri": "https://idp/token", "token_url_hash": "h4sh"}'), ['h4sh'])
  })

  it('a redactor asks for the secrets at each use, so it sees a rotated value', () => {
    const secrets = ['alpha-1111-one']
    const redact = redactorFor(() => secrets)
    assert.equal(redact('got alpha-1111-one'), 'got [redacted]')
    secrets[0] = 'omega-2222-two'
    assert.equal(redact('got omega-2222-two and alpha-1111-one'), 'got [redacted] and alpha-1111-one')
  })
})
