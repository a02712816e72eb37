import { userInfo } from 'node:os'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { decodeJwt, SignJWT } from 'jose'
import { requestDaemon, unwrap } from '../../src/client/transport.js'
import { startGateway } from '../helpers/gateway.js'
import { jwtVerifier, startJwksServer } from '../helpers/jwks-server.js'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()

/** A sandbox whose secrets live in the opt-in file store (the keychain has its own tests). */
function sandbox(profiles: string): Sandbox {
  const box = new Sandbox()
  sandboxes.push(box)
  box.writeConfig(`[broker]\nstore = "file"\n\n${profiles}`)
  return box
}

const LITELLM = (keyName: string, alg = 'ES256') => `
[profiles.litellm]
source = "jwt"
[profiles.litellm.jwt]
algorithm = "${alg}"
key = "keychain:${keyName}"
lifetime = "10m"
claims = { iss = "ccred", aud = "litellm", sub = "\${USER}", team = "\${env:TEAM}" }
`

/** Everything a user sees and ccred logs (not the store), to scan for a secret. */
function everythingShown(box: Sandbox, ...outputs: string[]): string {
  return [...outputs, box.auditLog(), box.daemonLog()].join('\n')
}

describe('jwt profiles through the daemon and a JWT-verifying gateway', () => {
  it('keygen → jwks published → get → the gateway verifies signature, iss, aud, exp, nbf; other keys and expired tokens are refused', async () => {
    const box = sandbox(LITELLM('gw-key', 'EdDSA'))
    const keygen = await box.run(['jwt', 'keygen', 'gw-key', '--alg', 'EdDSA'])
    assert.equal(keygen.code, 0, keygen.stderr)
    const publicJwk = JSON.parse(keygen.stdout) as Record<string, string>
    assert.equal(publicJwk.kty, 'OKP')
    assert.equal(publicJwk.d, undefined, 'stdout has no private member')
    assert.match(keygen.stderr, /stored the EdDSA private key as keychain:gw-key in the file store/)
    assert.match(keygen.stderr, /profiles using it: litellm/)
    const storedPem = (JSON.parse(readFileSync(join(box.dataDir, 'secrets.json'), 'utf8')) as Record<string, unknown>)
    const privatePem = JSON.stringify(storedPem).match(/-----BEGIN PRIVATE KEY-----[^"]+/)?.[0]
    assert.ok(privatePem !== undefined, 'the private key is in the opted-in store')

    const jwks = await box.run(['jwt', 'jwks', 'litellm'])
    assert.equal(jwks.code, 0, jwks.stderr)
    const published = JSON.parse(jwks.stdout) as { keys: Record<string, string>[] }
    assert.deepEqual(published.keys, [publicJwk], 'jwks publishes the key keygen printed')

    const jwksServer = await startJwksServer(published)
    let verifyAt: Date | undefined
    const accepted: Record<string, unknown>[] = []
    const gateway = await startGateway({ verify: jwtVerifier({ jwksUrl: jwksServer.url, issuer: 'ccred', audience: 'litellm', accepted, currentDate: () => verifyAt ?? new Date() }) })
    try {
      const send = async (token: string) => {
        const response = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: '{"model":"m","max_tokens":1,"messages":[]}' })
        await response.arrayBuffer()
        return response.status
      }
      const got = await box.run(['get', 'litellm'], { env: { TEAM: 'platform' } })
      // The daemon keeps the environment it started with: TEAM reached it on autostart.
      assert.equal(got.code, 0, got.stderr)
      const token = got.stdout.trim()
      assert.equal(got.stdout, `${token}\n`)
      assert.equal(await send(token), 200, gateway.requests.at(-1)?.rejection)
      assert.equal(accepted[0]!.team, 'platform')
      // ${USER} is the account the daemon runs as (the USER variable is often unset, e.g. for root in CI).
      assert.equal(accepted[0]!.sub, userInfo().username)

      // Signed by another key (same kid, so only the signature can tell).
      const other = generateKeyPairSync('ed25519').privateKey
      const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'EdDSA', kid: publicJwk.kid! }).sign(other)
      assert.equal(await send(forged), 401)
      assert.match(gateway.requests.at(-1)!.rejection!, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/)

      // The same token once it has expired, and before its nbf.
      const claims = decodeJwt(token)
      verifyAt = new Date(claims.exp! * 1000 + 1000)
      assert.equal(await send(token), 401)
      assert.match(gateway.requests.at(-1)!.rejection!, /ERR_JWT_EXPIRED/)
      verifyAt = new Date(claims.nbf! * 1000 - 60_000)
      assert.equal(await send(token), 401)
      assert.match(gateway.requests.at(-1)!.rejection!, /ERR_JWT_CLAIM_VALIDATION_FAILED: "nbf"/)
      verifyAt = undefined

      // Rotation: keygen --force replaces the key and drops the daemon's token, so the next
      // get is signed by the new key; the gateway accepts it once the new JWKS is published.
      const rotated = await box.run(['jwt', 'keygen', 'gw-key', '--alg', 'EdDSA', '--force'])
      assert.equal(rotated.code, 0, rotated.stderr)
      const next = (await box.run(['get', 'litellm'])).stdout.trim()
      assert.notEqual(next, token)
      assert.equal(await send(next), 401, 'the old JWKS does not know the new key')
      jwksServer.publish(JSON.parse((await box.run(['jwt', 'jwks', 'litellm'])).stdout) as { keys: object[] })
      assert.equal(await send(next), 200, gateway.requests.at(-1)?.rejection)

      const status = await box.run(['status', '--json'])
      const written = everythingShown(box, keygen.stderr, got.stderr, status.stdout, status.stderr, jwks.stdout)
      assert.ok(!written.includes(privatePem.slice(40, 100)), 'the private key appears only in the store')
      assert.ok(!box.auditLog().includes(token) && !status.stdout.includes(token), 'no token in audit or status')
    } finally {
      await gateway.close()
      await jwksServer.close()
    }
  })

  it('100 concurrent gets on a cold profile mint exactly one token', async () => {
    const box = sandbox(LITELLM('k1'))
    assert.equal((await box.run(['jwt', 'keygen', 'k1'])).code, 0)
    assert.equal((await box.run(['daemon', 'start'], { env: { TEAM: 'eng' } })).code, 0)
    const socket = { CCRED_RUNTIME_DIR: box.runtimeDir }
    const values = await Promise.all(Array.from({ length: 100 }, () =>
      requestDaemon(socket, 'POST', '/v1/credential', { profile: 'litellm', callerTtlMs: 300_000 }).then((r) => unwrap<{ value: string }>(r).value)))
    assert.equal(new Set(values).size, 1, 'every caller got the same token')
    const status = JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { profile: string; fetches: number; hits: number }[] }
    const litellm = status.profiles.find((p) => p.profile === 'litellm')!
    assert.equal(litellm.fetches, 1, 'one mint')
    assert.equal(box.auditLines().filter((line) => line.event === 'issue').length, 100, 'each caller is audited (all as served by the one fetch)')
  })

  it('a short lifetime warns once with the TTL to set; bad keys and templates fail with the profile and key named', async () => {
    const box = sandbox(`
[profiles.short]
source = "jwt"
[profiles.short.jwt]
algorithm = "HS256"
key = "env:HS_SECRET"
lifetime = "2m"

[profiles.wrongkey]
source = "jwt"
[profiles.wrongkey.jwt]
algorithm = "RS256"
key = "keychain:ec-key"

[profiles.noteam]
source = "jwt"
[profiles.noteam.jwt]
algorithm = "HS256"
key = "env:HS_SECRET"
claims = { team = "\${env:NO_SUCH_TEAM}" }
`)
    const env = { HS_SECRET: 'a-long-random-shared-secret-0123456789abcdef' }
    const short = await box.run(['get', 'short'], { env })
    assert.equal(short.code, 0, short.stderr)
    assert.match(short.stderr, /^ccred: warning: profile short: credentials live 2m, too short for the helper TTL 5m \+ skew 1m \(the largest safe TTL is 18s\); set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=18000 .*\[WARN_SHORT_LIFETIME\]$/m)
    const again = await box.run(['get', 'short'], { distinctCaller: true })
    assert.equal(again.stderr, '', 'the warning is given once')
    const status = await box.run(['status'])
    assert.match(status.stdout, /credentials live 2m/)

    assert.equal((await box.run(['jwt', 'keygen', 'ec-key', '--alg', 'ES256'])).code, 0)
    const wrong = await box.run(['get', 'wrongkey'])
    assert.equal(wrong.code, 3)
    assert.equal(wrong.stdout, '')
    assert.match(wrong.stderr, /^ccred: profile wrongkey: profiles\.wrongkey\.jwt\.key \(keychain:ec-key\) is an EC P-256 private key; RS256 needs an RSA private key of 2048 bits or more \[ERR_CONFIG\] — make a fitting key with: ccred jwt keygen ec-key --alg RS256/)

    const noteam = await box.run(['get', 'noteam'])
    assert.equal(noteam.code, 5)
    assert.match(noteam.stderr, /profiles\.noteam\.jwt\.claims\.team: environment variable NO_SUCH_TEAM is not set in the daemon's environment \[ERR_REFERENCE\]/)
    for (const result of [short, wrong, noteam]) assert.ok(!result.stderr.includes(env.HS_SECRET))
  })

  it('set validates a key before storing it; jwks and decode refuse what they cannot do', async () => {
    const box = sandbox(`${LITELLM('imported')}
[profiles.hs]
source = "jwt"
[profiles.hs.jwt]
algorithm = "HS256"
key = "keychain:hs-secret"

[profiles.plain]
source = "demo"
`)
    const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const imported = await box.run(['set', 'litellm'], { input: pem })
    assert.equal(imported.code, 0, imported.stderr)
    assert.equal((await box.run(['jwt', 'jwks', 'litellm'])).code, 0)
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const misfit = await box.run(['set', 'litellm'], { input: rsaPem })
    assert.equal(misfit.code, 2)
    assert.match(misfit.stderr, /not stored: for profile litellm, the key is an RSA private key; ES256 needs an EC P-256 private key/)
    const shortSecret = await box.run(['set', 'hs'], { input: 'too-short\n' })
    assert.equal(shortSecret.code, 2)
    assert.match(shortSecret.stderr, /the key is 9 bytes; HS256 needs a secret of at least 32 bytes/)

    assert.equal((await box.run(['set', 'hs'], { input: 'x'.repeat(40) })).code, 0)
    const hsJwks = await box.run(['jwt', 'jwks', 'hs'])
    assert.equal(hsJwks.code, 2)
    assert.match(hsJwks.stderr, /signs with HS256, a shared secret: there is no public key to publish \[ERR_USAGE\]/)
    const plainJwks = await box.run(['jwt', 'jwks', 'plain'])
    assert.equal(plainJwks.code, 2)
    assert.match(plainJwks.stderr, /profile plain uses source "demo", not "jwt"/)

    const token = (await box.run(['get', 'hs'])).stdout
    const decoded = await box.run(['jwt', 'decode'], { input: `Bearer ${token}` })
    assert.equal(decoded.code, 0, decoded.stderr)
    const shown = JSON.parse(decoded.stdout) as { header: { alg: string }; claims: { exp: number }; times: { exp: string }; verified: boolean }
    assert.equal(shown.header.alg, 'HS256')
    assert.equal(shown.verified, false)
    assert.equal(shown.times.exp, new Date(shown.claims.exp * 1000).toISOString())
    assert.match(decoded.stderr, /not verified/)
    const garbage = await box.run(['jwt', 'decode'], { input: 'not-a-jwt' })
    assert.equal(garbage.code, 2)
    assert.match(garbage.stderr, /stdin is not a signed JWT/)
    const keygenBad = await box.run(['jwt', 'keygen', 'x', '--alg', 'HS256'])
    assert.equal(keygenBad.code, 2)
  })
})
