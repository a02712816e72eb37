import assert from 'node:assert/strict'
import { createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { userInfo } from 'node:os'
import { describe, it } from 'node:test'
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose'
import { Broker, type BrokerProfile } from '../../src/broker/broker.js'
import { FakeClock } from '../../src/clock.js'
import { parseConfig } from '../../src/profiles/load.js'
import { resolveReference, type Reference } from '../../src/config/references.js'
import { CcredError } from '../../src/errors.js'
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../../src/jwt/keys.js'
import { jwksFor, jwtSource, type JwtOptions } from '../../src/sources/jwt.js'
import type { FetchContext } from '../../src/sources/source.js'
import { tokenValue } from '../helpers/issued.js'
import { testSourceDeps } from '../helpers/source-deps.js'

const MINUTE = 60_000

/** Key material as a user would store it, with the key that verifies it. */
interface TestKey {
  stored: string
  verifyWith: KeyObject
}

function pemKey(alg: JwtAlgorithm): TestKey {
  const pair =
    alg.startsWith('RS') || alg.startsWith('PS') ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        : alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
          : generateKeyPairSync('ed25519')
  return { stored: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), verifyWith: pair.publicKey }
}

function testKey(alg: JwtAlgorithm): TestKey {
  if (alg.startsWith('HS')) {
    const secret = randomBytes(Number(alg.slice(2)) / 8).toString('base64url')
    return { stored: secret, verifyWith: createSecretKey(Buffer.from(secret, 'utf8')) }
  }
  return pemKey(alg)
}

/** The fetch context the daemon gives a source, with the key behind env:KEY and a fake environment. */
function context(env: Record<string, string | undefined>, clock = new FakeClock(Date.parse('2026-11-22T10:00:00Z'))): FetchContext {
  return {
    profile: 'gw',
    clock,
    resolve: (ref: Reference, key: string) => resolveReference(ref, `profiles.gw.${key}`, {
      env, homeDir: '/nonexistent', readFile: async () => { throw new Error('no files here') }, storeGet: async () => undefined, storeDescription: 'no store',
    }, 'gw'),
  }
}

async function jwtOptions(table: string): Promise<JwtOptions> {
  const config = await parseConfig(`[profiles.gw]\nsource = "jwt"\n[profiles.gw.jwt]\n${table}\n`, '/cfg/config.toml', { path: '/cfg/config.toml', fromFile: true, stamp: 's' })
  const invalid = config.invalidProfiles.get('gw')
  if (invalid !== undefined) throw invalid
  return config.profiles.get('gw')!.source.options as JwtOptions
}

async function configProblem(table: string): Promise<string> {
  const error = await jwtOptions(table).then(() => undefined, (e: unknown) => e)
  assert.ok(error instanceof CcredError, `expected a config error for:\n${table}`)
  assert.equal(error.code, 'ERR_CONFIG')
  return error.message
}

async function mint(options: JwtOptions, ctx: FetchContext) {
  return jwtSource.create(options, testSourceDeps()).fetch(ctx)
}

async function fetchError(options: JwtOptions, ctx: FetchContext): Promise<CcredError> {
  const error = await mint(options, ctx).then(() => undefined, (e: unknown) => e)
  assert.ok(error instanceof CcredError, 'expected the mint to fail')
  return error
}

describe('jwt source: every algorithm round-trips', () => {
  for (const alg of JWT_ALGORITHMS) {
    it(`${alg}: mint, then verify with the ${alg.startsWith('HS') ? 'secret' : 'public key'}`, async () => {
      const key = testKey(alg)
      const options = await jwtOptions(`algorithm = "${alg}"\nkey = "env:KEY"\nlifetime = "10m"\nclaims = { iss = "ccred-test", sub = "\${USER}", aud = ["gw", "other"], team = "eng", n = 3, nested = { host = "\${HOSTNAME}", who = "\${env:WHO}" } }`)
      const ctx = context({ KEY: key.stored, WHO: 'ci-bot' })
      const credential = await mint(options, ctx)
      const { payload, protectedHeader } = await jwtVerify(tokenValue(credential), key.verifyWith, {
        algorithms: [alg], issuer: 'ccred-test', audience: 'gw', currentDate: new Date(ctx.clock.now()),
      })
      assert.equal(protectedHeader.alg, alg)
      assert.equal(protectedHeader.typ, 'JWT')
      assert.equal(payload.sub, userInfo().username)
      assert.deepEqual(payload.aud, ['gw', 'other'])
      assert.equal(payload.team, 'eng')
      assert.equal(payload.n, 3)
      assert.equal((payload.nested as { who: string }).who, 'ci-bot')
      const nowS = Math.floor(ctx.clock.now() / 1000)
      assert.equal(payload.iat, nowS)
      assert.equal(payload.nbf, nowS)
      assert.equal(payload.exp, nowS + 600)
      assert.equal(credential.expiresAt!.getTime(), (nowS + 600) * 1000)
      assert.match(String(payload.jti), /^[0-9a-f-]{36}$/)
      if (alg.startsWith('HS')) assert.equal(protectedHeader.kid, undefined, 'no kid derived from a shared secret')
      else assert.equal(protectedHeader.kid, await calculateJwkThumbprint(key.verifyWith.export({ format: 'jwk' }) as JWK), 'kid = RFC 7638 thumbprint')
    })
  }

  it('reads PKCS#1 and SEC1 PEM and JWKs too; a JWK kid and an explicit kid win over the thumbprint', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const cases: { alg: JwtAlgorithm; stored: string; verifyWith: KeyObject; kid?: string; extra?: string }[] = [
      { alg: 'RS256', stored: rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), verifyWith: rsa.publicKey },
      { alg: 'ES256', stored: ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(), verifyWith: ec.publicKey },
      { alg: 'ES256', stored: JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'from-jwk' }), verifyWith: ec.publicKey, kid: 'from-jwk' },
      { alg: 'PS256', stored: JSON.stringify(rsa.privateKey.export({ format: 'jwk' })), verifyWith: rsa.publicKey, kid: 'explicit-1', extra: 'kid = "explicit-1"' },
      { alg: 'HS256', stored: JSON.stringify({ kty: 'oct', k: randomBytes(32).toString('base64url') }), verifyWith: createSecretKey(randomBytes(1)) },
    ]
    cases[4]!.verifyWith = createSecretKey(Buffer.from(JSON.parse(cases[4]!.stored).k, 'base64url'))
    for (const c of cases) {
      const options = await jwtOptions(`algorithm = "${c.alg}"\nkey = "env:KEY"\n${c.extra ?? ''}`)
      const credential = await mint(options, context({ KEY: c.stored }))
      const { protectedHeader } = await jwtVerify(tokenValue(credential), c.verifyWith, { algorithms: [c.alg], currentDate: new Date(credential.expiresAt!.getTime() - 1000) })
      if (c.kid !== undefined) assert.equal(protectedHeader.kid, c.kid)
    }
  })

  it('each token has its own jti; typ can be set; the default lifetime is 1h', async () => {
    const key = testKey('ES256')
    const options = await jwtOptions('algorithm = "ES256"\nkey = "env:KEY"\ntyp = "at+jwt"')
    const ctx = context({ KEY: key.stored })
    const tokens = await Promise.all(Array.from({ length: 20 }, () => mint(options, ctx)))
    assert.equal(new Set(tokens.map((t) => decodeJwt(tokenValue(t)).jti)).size, 20)
    assert.equal(decodeProtectedHeader(tokenValue(tokens[0]!)).typ, 'at+jwt')
    assert.equal(tokens[0]!.expiresAt!.getTime() - ctx.clock.now(), 3_600_000)
  })
})

describe('jwt source: bad keys name the profile and the key', () => {
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
  const ed = generateKeyPairSync('ed25519')
  const cases: { alg: JwtAlgorithm; stored: string; why: RegExp }[] = [
    { alg: 'ES256', stored: 'not a key at all', why: /is neither a PEM private key nor a JWK; ES256 needs an EC P-256 private key/ },
    { alg: 'ES256', stored: p384.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), why: /is an EC P-384 private key; ES256 needs an EC P-256 private key/ },
    { alg: 'RS256', stored: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), why: /is an Ed25519 private key; RS256 needs an RSA private key of 2048 bits or more/ },
    { alg: 'RS256', stored: rsa1024.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), why: /is a 1024-bit RSA key; RS256 needs 2048 bits or more/ },
    { alg: 'EdDSA', stored: ed.publicKey.export({ type: 'spki', format: 'pem' }).toString(), why: /is a public key or certificate; signing needs the private key/ },
    { alg: 'ES384', stored: JSON.stringify(p384.publicKey.export({ format: 'jwk' })), why: /is a public JWK; signing needs the private key/ },
    { alg: 'HS256', stored: 'short-secret', why: /is 12 bytes; HS256 needs a secret of at least 32 bytes/ },
    { alg: 'HS512', stored: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), why: /is a PEM private key; HS512 needs a secret of at least 64 bytes/ },
    { alg: 'ES256', stored: '{"kty":', why: /is not valid JSON/ },
    { alg: 'ES256', stored: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----', why: /is an encrypted private key/ },
  ]
  for (const c of cases) {
    it(`${c.alg} with ${c.why.source.slice(0, 50)}`, async () => {
      const error = await fetchError(await jwtOptions(`algorithm = "${c.alg}"\nkey = "env:KEY"`), context({ KEY: c.stored }))
      assert.equal(error.code, 'ERR_CONFIG')
      assert.match(error.message, /^profiles\.gw\.jwt\.key \(env:KEY\) /)
      assert.match(error.message, c.why)
      assert.ok(error.hint !== undefined && error.hint.length > 0)
      if (c.stored.length > 20) assert.ok(!error.message.includes(c.stored.slice(30, 60)), 'the key is not echoed')
    })
  }

  it('a missing key reference and a missing template variable are errors, never an empty claim', async () => {
    const options = await jwtOptions('algorithm = "ES256"\nkey = "env:KEY"\nclaims = { team = "${env:TEAM}" }')
    const noKey = await fetchError(options, context({}))
    assert.equal(noKey.code, 'ERR_REFERENCE')
    assert.match(noKey.message, /profiles\.gw\.jwt\.key: environment variable KEY is not set/)
    const noTeam = await fetchError(options, context({ KEY: testKey('ES256').stored }))
    assert.equal(noTeam.code, 'ERR_REFERENCE')
    assert.match(noTeam.message, /profiles\.gw\.jwt\.claims\.team: environment variable TEAM is not set/)
    const empty = await fetchError(options, context({ KEY: testKey('ES256').stored, TEAM: '' }))
    assert.equal(empty.code, 'ERR_REFERENCE', 'an empty variable is not an empty claim')
  })

  it('jwks: the public half with kid, alg and use; refused for a shared secret', async () => {
    const key = testKey('ES256')
    const ctx = context({ KEY: key.stored })
    const jwks = await jwksFor(await jwtOptions('algorithm = "ES256"\nkey = "env:KEY"'), ctx)
    assert.equal(jwks.keys.length, 1)
    const published = jwks.keys[0] as Record<string, string>
    assert.equal(published.d, undefined, 'no private member')
    assert.equal(published.alg, 'ES256')
    assert.equal(published.use, 'sig')
    assert.equal(published.kid, await calculateJwkThumbprint(key.verifyWith.export({ format: 'jwk' }) as JWK))
    const hs = await jwksFor(await jwtOptions('algorithm = "HS256"\nkey = "env:KEY"'), context({ KEY: 'x'.repeat(32) })).then(() => undefined, (e: unknown) => e)
    assert.ok(hs instanceof CcredError && hs.code === 'ERR_USAGE' && /shared secret: there is no public key/.test(hs.message))
  })

  it('ccred set checks a key before storing it', async () => {
    const options = await jwtOptions('algorithm = "ES256"\nkey = "keychain:gw-key"')
    assert.equal(jwtSource.storedSecretName!(options), 'gw-key')
    assert.equal(jwtSource.validateStoredSecret!(options, testKey('ES256').stored), undefined, 'a multi-line PEM is fine')
    assert.match(jwtSource.validateStoredSecret!(options, 'nope')!, /^the key is neither a PEM private key nor a JWK/)
  })
})

describe('jwt source: config errors, all in one message', () => {
  it('algorithm, key, lifetime, claims', async () => {
    const message = await configProblem('algorithm = "HS1"\nkey = "sk-inline-secret"\nlifetime = "10x"\nclaims = { exp = 5, iat = 1, team = "${TEAM}", aud = 7, sub = true, x = "${env:A" }\nkidd = "typo"')
    for (const expected of [
      /profiles\.gw\.jwt\.algorithm: expected one of "HS256", .*"EdDSA", got "HS1"/,
      /profiles\.gw\.jwt\.key: expected a reference "env:NAME", "file:PATH" or "keychain:NAME"/,
      /profiles\.gw\.jwt\.lifetime: "10x" is not a duration/,
      /profiles\.gw\.jwt\.claims\.exp: is set by ccred on every token \(use lifetime\)/,
      /profiles\.gw\.jwt\.claims\.iat: is set by ccred/,
      /profiles\.gw\.jwt\.claims\.team: unknown placeholder "\$\{TEAM\}" \(known: \$\{USER\}, \$\{HOSTNAME\}, \$\{env:NAME\}\)/,
      /profiles\.gw\.jwt\.claims\.aud: expected a string or a non-empty list of strings/,
      /profiles\.gw\.jwt\.claims\.sub: expected a string/,
      /profiles\.gw\.jwt\.claims\.x: has an unclosed "\$\{"/,
      /profiles\.gw\.jwt\.kidd: unknown key/,
    ]) assert.match(message, expected)
    assert.ok(!message.includes('sk-inline-secret'), 'the inline secret is not echoed')
  })

  it('lifetime bounds, a missing [jwt] table, a missing algorithm', async () => {
    assert.match(await configProblem('algorithm = "ES256"\nkey = "env:K"\nlifetime = "5s"'), /profiles\.gw\.jwt\.lifetime: "5s" is too short \(at least 30000 ms\)/)
    assert.match(await configProblem('algorithm = "ES256"\nkey = "env:K"\nlifetime = "48h"'), /profiles\.gw\.jwt\.lifetime: "48h" is too long/)
    assert.match(await configProblem('key = "env:K"'), /profiles\.gw\.jwt\.algorithm: is required \(one of HS256/)
    assert.match(await configProblem('algorithm = "ES256"\nkey = "env:K"\nclaims = { "${USER}" = "x" }'), /profiles\.gw\.jwt\.claims: the claim name "\$\{USER\}" has "\$\{": claim names are not templated, only values/)
    const config = await parseConfig('[profiles.gw]\nsource = "jwt"\n', '/cfg/config.toml', { path: '/cfg/config.toml', fromFile: true, stamp: 's' })
    assert.match(config.invalidProfiles.get('gw')!.message, /profiles\.gw\.jwt: is required \(a \[profiles\.gw\.jwt\] table\)/)
  })
})

describe('jwt source under the broker, with an injected clock', () => {
  it('lifetime 10m, TTL 5m, skew 60s: re-mints once less than 6 min remain, ahead of any caller, never handing out a token that expires inside the TTL', async () => {
    const clock = new FakeClock(Date.parse('2026-11-22T10:00:00Z'))
    const key = testKey('ES256')
    const options = await jwtOptions('algorithm = "ES256"\nkey = "env:KEY"\nlifetime = "10m"')
    const source = jwtSource.create(options, testSourceDeps())
    const mintedAtMs: number[] = []
    const counted = { kind: 'jwt', fetch: async (ctx: FetchContext) => { mintedAtMs.push(clock.now()); return source.fetch(ctx) } }
    const broker = new Broker({ clock, settings: () => ({ skewMs: MINUTE, reissueIntervalMs: 10_000 }) })
    const profile: BrokerProfile = { key: 'gw#1', name: 'gw', sourceKind: 'jwt', header: 'authorization', source: counted, context: context({ KEY: key.stored }, clock) }
    const ttlMs = 5 * MINUTE
    // A refresh-ahead mint started by clock.advance runs on real time (key import, signing):
    // wait until the broker has none in flight, however long the CPU takes, before asking.
    const settle = async () => {
      do await new Promise<void>((resolve) => setImmediate(resolve))
      while (broker.status().some((profileStatus) => profileStatus.refreshing))
    }

    const first = await broker.get({ profile, callerTtlMs: ttlMs })
    assert.equal(first.served, 'fetch')
    assert.equal(mintedAtMs.length, 1)
    const firstExpS = decodeJwt(tokenValue(first.credential)).exp!

    // Up to 4 min in (6 min left) the token is served from cache; the refresh-ahead
    // timer then mints the next one before 6 min remain, so no caller waits.
    const seen = new Set<string>([tokenValue(first.credential)])
    for (let stepMs = 0; stepMs < 30 * MINUTE; stepMs += 15_000) {
      clock.advance(15_000)
      await settle()
      const mintsBefore: number = mintedAtMs.length
      const result = await broker.get({ profile, callerTtlMs: ttlMs })
      assert.equal(result.served, 'hit', `at +${(stepMs + 15_000) / 1000}s a caller found a token ready`)
      assert.equal(mintedAtMs.length, mintsBefore, 'the caller did not trigger a mint')
      const expS = decodeJwt(tokenValue(result.credential)).exp!
      assert.ok(expS * 1000 - clock.now() >= ttlMs + MINUTE, `a token with ${expS * 1000 - clock.now()} ms left was handed out`)
      await jwtVerify(tokenValue(result.credential), key.verifyWith, { currentDate: new Date(clock.now() + ttlMs) })
      seen.add(tokenValue(result.credential))
    }
    // Each next token is minted when the current one has 6 min left plus the refresh lead
    // (min(60 s, lifetime / 10) = 1 min): every 3 min, never later than at 4 min.
    const gapsMs = mintedAtMs.slice(1).map((at, i) => at - mintedAtMs[i]!)
    assert.ok(gapsMs.length >= 9, `${mintedAtMs.length} mints in 30 min`)
    for (const gapMs of gapsMs) assert.ok(gapMs >= 3 * MINUTE && gapMs <= 4 * MINUTE, `a mint ${gapMs / 1000} s after the previous one`)
    assert.equal(seen.size, mintedAtMs.length)
    assert.ok(decodeJwt([...seen].at(-1)!).exp! > firstExpS)
    broker.close()
  })
})
