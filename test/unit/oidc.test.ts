import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { FakeClock } from '../../src/clock.js'
import { parseConfig } from '../../src/profiles/load.js'
import { autoLoginAllowed } from '../../src/cli/auto-login.js'
import { decideBrowser, isCi } from '../../src/oidc/browser.js'
import type { TokenResponse } from '../../src/oidc/client.js'
import { DEFAULT_LOGIN_TIMEOUT_MS, refreshTokenName, type OidcOptions } from '../../src/oidc/config.js'
import { credentialFromTokens } from '../../src/oidc/tokens.js'

const meta = { path: '/cfg/config.toml', fromFile: true, stamp: 's' }

async function oidcProfile(table: string): Promise<{ options?: OidcOptions; error?: string }> {
  const config = await parseConfig(`[profiles.corp]\nsource = "oidc"\n[profiles.corp.oidc]\n${table}`, '/cfg/config.toml', meta)
  const invalid = config.invalidProfiles.get('corp')
  if (invalid !== undefined) return { error: invalid.message }
  return { options: config.profiles.get('corp')!.source.options as OidcOptions }
}

describe('oidc config', () => {
  it('defaults: authorization code, openid + offline_access, the access token, manual login, a random loopback port', async () => {
    const { options, error } = await oidcProfile('issuer = "https://login.example.com"\nclient_id = "ccred"')
    assert.equal(error, undefined)
    assert.deepEqual(options, {
      issuer: 'https://login.example.com',
      clientId: 'ccred',
      grant: 'authorization_code',
      scopes: ['openid', 'offline_access'],
      token: 'access_token',
      login: 'manual',
      redirectPort: 0,
      loginTimeoutMs: DEFAULT_LOGIN_TIMEOUT_MS,
    })
    assert.equal(refreshTokenName('corp'), 'oidc:corp:refresh_token')
  })

  it('reads every key, including a token exchange table', async () => {
    const { options, error } = await oidcProfile(`
issuer = "https://login.example.com/realms/corp"
client_id = "ccred"
client_secret = "env:OIDC_SECRET"
scopes = ["openid", "offline_access", "api"]
audience = "api://gateway"
resource = "https://gateway.example.com"
token = "id_token"
login = "auto"
redirect_port = 8400
login_timeout = "2m"
exchange = { endpoint = "https://gateway.example.com/token", audience = "litellm", subject_token = "id_token" }
`)
    assert.equal(error, undefined)
    assert.deepEqual(options?.clientSecret, { kind: 'env', target: 'OIDC_SECRET' })
    assert.equal(options?.token, 'id_token')
    assert.equal(options?.login, 'auto')
    assert.equal(options?.redirectPort, 8400)
    assert.equal(options?.loginTimeoutMs, 120_000)
    assert.deepEqual(options?.exchange, {
      endpoint: 'https://gateway.example.com/token',
      audience: 'litellm',
      subjectToken: 'id_token',
      requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    })
  })

  it('client_credentials needs a secret or key by reference, and defaults to no scopes', async () => {
    const ok = await oidcProfile('issuer = "https://idp.example"\nclient_id = "bot"\ngrant = "client_credentials"\nprivate_key = "file:/run/secrets/bot.pem"')
    assert.equal(ok.error, undefined)
    assert.deepEqual(ok.options?.scopes, [])
    assert.deepEqual(ok.options?.privateKey, { kind: 'file', target: '/run/secrets/bot.pem' })
    const missing = await oidcProfile('issuer = "https://idp.example"\nclient_id = "bot"\ngrant = "client_credentials"')
    assert.match(missing.error ?? '', /profiles\.corp\.oidc\.grant: client_credentials needs client_secret or private_key/)
    const literal = await oidcProfile('issuer = "https://idp.example"\nclient_id = "bot"\ngrant = "client_credentials"\nclient_secret = "hunter2"')
    assert.match(literal.error ?? '', /profiles\.corp\.oidc\.client_secret: expected a reference/)
    assert.ok(!(literal.error ?? '').includes('hunter2'), 'the literal secret is not echoed')
  })

  it('lists every problem: http for a real issuer, missing client_id, bad port, unknown keys (also in exchange), both secret and key', async () => {
    const { error } = await oidcProfile(`
issuer = "http://login.example.com"
redirect_port = 80
scope = ["openid"]
client_secret = "env:A"
private_key = "env:B"
exchange = { audiance = "x" }
`)
    const message = error ?? ''
    assert.match(message, /oidc\.issuer: must be an https:\/\/ URL \(plain http is accepted only for 127\.0\.0\.1/)
    assert.match(message, /oidc\.client_id: is required/)
    assert.match(message, /oidc\.redirect_port: expected a port number from 1024 to 65535/)
    assert.match(message, /oidc\.scope: unknown key \(known keys here: .*scopes/)
    assert.match(message, /oidc\.private_key: set either client_secret or private_key, not both/)
    assert.match(message, /oidc\.exchange\.audience: set audience or resource/)
    assert.match(message, /oidc\.exchange\.audiance: unknown key/)
  })

  it('a login profile may name only the issuer: client_id defaults to "ccred" (a server like the Claude apps gateway ignores it)', async () => {
    const gateway = await oidcProfile('issuer = "https://gateway.example.com"')
    assert.equal(gateway.error, undefined)
    assert.equal(gateway.options?.clientId, 'ccred')
    assert.equal(gateway.options?.grant, 'authorization_code')
    const service = await oidcProfile('issuer = "https://idp.example"\ngrant = "client_credentials"\nclient_secret = "env:S"')
    assert.match(service.error ?? '', /oidc\.client_id: is required/)
  })

  it('accepts plain http only on loopback; a missing [oidc] table is reported', async () => {
    assert.equal((await oidcProfile('issuer = "http://127.0.0.1:8080"\nclient_id = "c"')).error, undefined)
    assert.equal((await oidcProfile('issuer = "http://localhost:8080/realms/x"\nclient_id = "c"')).error, undefined)
    const config = await parseConfig('[profiles.corp]\nsource = "oidc"\n', '/cfg/config.toml', meta)
    assert.match(config.invalidProfiles.get('corp')!.message, /profiles\.corp\.oidc: is required/)
  })
})

describe('oidc: can a browser open here?', () => {
  it('a Linux desktop and a Mac: the browser flow, launching the browser', () => {
    assert.deepEqual(decideBrowser({ DISPLAY: ':0' }, 'linux'), { loopback: true, launch: true, reason: 'a browser can be opened' })
    assert.equal(decideBrowser({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux').launch, true)
    assert.equal(decideBrowser({}, 'darwin').loopback, true)
    assert.equal(decideBrowser({}, 'win32').loopback, true)
  })

  it('CI, SSH and a Linux box without a display: the device flow, with the reason', () => {
    assert.deepEqual(decideBrowser({ CI: 'true', DISPLAY: ':0' }, 'linux'), { loopback: false, launch: false, reason: 'running in CI' })
    assert.match(decideBrowser({ SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22' }, 'darwin').reason, /SSH session/)
    assert.match(decideBrowser({ SSH_TTY: '/dev/pts/1', DISPLAY: 'localhost:10.0' }, 'linux').reason, /SSH session/)
    assert.deepEqual(decideBrowser({}, 'linux'), { loopback: false, launch: false, reason: 'no DISPLAY or WAYLAND_DISPLAY' })
  })

  it('CCRED_BROWSER=none keeps the loopback flow but only prints the URL; CI=false is not CI', () => {
    assert.deepEqual(decideBrowser({ CCRED_BROWSER: 'none', CI: '1' }, 'linux'), { loopback: true, launch: false, reason: 'CCRED_BROWSER=none: open the printed URL yourself' })
    assert.equal(isCi({ CI: 'false' }), false)
    assert.equal(isCi({ CI: '0' }), false)
    assert.equal(isCi({ CI: '' }), false)
    assert.equal(isCi({ CI: 'true' }), true)
  })
})

describe('oidc: the credential from a token response', () => {
  const options = { issuer: 'https://idp.example', token: 'access_token' } as OidcOptions
  const response = (fields: Record<string, unknown>) => ({ ...fields, claims: () => undefined }) as unknown as TokenResponse

  it('expires at expires_in from the injected clock, or earlier when the JWT says so', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1))
    const opaque = await credentialFromTokens(response({ access_token: 'opaque-token', expires_in: 300 }), options, clock.now(), 'corp')
    assert.equal(opaque.expiresAt?.toISOString(), '2026-01-01T00:05:00.000Z')
    const jwtExpS = Math.floor(clock.now() / 1000) + 120
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(jwtExpS).sign(new Uint8Array(32))
    const early = await credentialFromTokens(response({ access_token: jwt, expires_in: 300 }), options, clock.now(), 'corp')
    assert.equal(early.expiresAt?.toISOString(), '2026-01-01T00:02:00.000Z')
  })

  it('an ID token profile uses the ID token and its exp; a missing token is ERR_SOURCE_OUTPUT', async () => {
    const now = Date.UTC(2026, 0, 1)
    const idToken = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(now / 1000) + 600).sign(new Uint8Array(32))
    const credential = await credentialFromTokens(response({ access_token: 'a', id_token: idToken, expires_in: 60 }), { ...options, token: 'id_token' }, now, 'corp')
    assert.equal(credential.value, idToken)
    assert.equal(credential.expiresAt?.toISOString(), '2026-01-01T00:10:00.000Z')
    await assert.rejects(credentialFromTokens(response({ access_token: 'a' }), { ...options, token: 'id_token' }, now, 'corp'), { code: 'ERR_SOURCE_OUTPUT', message: /returned no id_token/ })
  })
})

describe('oidc: may get start the login itself (login = "auto")?', () => {
  const atTerminal = { stdinIsTTY: true, stderrIsTTY: true }
  it('a person at a terminal with a display: yes', () => {
    assert.equal(autoLoginAllowed({ DISPLAY: ':0' }, atTerminal, 'linux').allowed, true)
    assert.equal(autoLoginAllowed({}, atTerminal, 'darwin').allowed, true)
  })
  it('Claude Code (stdin a pipe), CI, SSH, no display, or only printing the URL: no', () => {
    assert.deepEqual(autoLoginAllowed({ DISPLAY: ':0' }, { stdinIsTTY: false, stderrIsTTY: true }, 'linux'), { allowed: false, reason: 'not at a terminal' })
    assert.equal(autoLoginAllowed({ DISPLAY: ':0' }, { stdinIsTTY: true, stderrIsTTY: false }, 'linux').allowed, false)
    assert.deepEqual(autoLoginAllowed({ CI: 'true' }, atTerminal, 'darwin'), { allowed: false, reason: 'running in CI' })
    assert.equal(autoLoginAllowed({ SSH_TTY: '/dev/pts/0' }, atTerminal, 'darwin').allowed, false)
    assert.equal(autoLoginAllowed({}, atTerminal, 'linux').allowed, false)
    assert.equal(autoLoginAllowed({ CCRED_BROWSER: 'none', DISPLAY: ':0' }, atTerminal, 'linux').allowed, false)
  })
})
