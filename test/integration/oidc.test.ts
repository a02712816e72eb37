/**
 * SSO end to end: the real CLI and daemon against a real OpenID Provider
 * (oidc-provider on loopback), with a real headless chromium playing the user.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose'
import type { Browser } from 'playwright-core'
import { chromiumPath, launchBrowser, loginWithBrowser, loopbackPage, signInAtProvider } from '../helpers/browser.js'
import { startGateway } from '../helpers/gateway.js'
import { GATEWAY_AUDIENCE, KEY_CLIENT_ID, keyClient, LOGIN_CLIENT, idpTokenVerifier, oidcProfileToml, PUBLIC_CLIENT_ID, SECRET_CLIENT, SECRET_CLIENT_ID, startTestProvider, type TestProvider } from '../helpers/oidc-provider.js'
import { Sandbox, type CliResult, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { EXCHANGED_ISSUER, startTokenExchangeServer } from '../helpers/token-exchange-server.js'

const REFRESH_TOKEN_NAME = 'oidc:corp:refresh_token'
/** TTL 0 turns off the 401 heuristic, so repeated gets from this test are plain cache hits. */
const NO_REISSUE = { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' }

const sandboxes = sandboxesCleanedUpAfterAll()
let provider: TestProvider
let browser: Browser | undefined
const noBrowser = chromiumPath() === undefined ? 'chromium is not installed (the CI image installs Debian\'s chromium)' : undefined

before(async () => {
  provider = await startTestProvider()
  if (noBrowser === undefined) browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
  await provider.close()
})

function corpProfile(extra = ''): string {
  return oidcProfileToml(provider.issuer, 'corp', LOGIN_CLIENT, extra)
}

function sandbox(profiles: string, env: Record<string, string> = {}): Sandbox {
  const box = new Sandbox(env)
  sandboxes.push(box)
  box.writeConfig(`[broker]\nstore = "file"\n\n${profiles}`)
  return box
}

function storedSecrets(box: Sandbox): Record<string, string> {
  const path = join(box.dataDir, 'secrets.json')
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as Record<string, string> : {}
}

function show(result: CliResult): string {
  return `exit ${String(result.code)}; stderr ${JSON.stringify(result.stderr)}`
}

function verifierFor(accepted: JWTPayload[]): (token: string) => Promise<string | undefined> {
  return idpTokenVerifier(provider, accepted)
}

/** `ccred login corp` with the test's chromium as the user's browser. */
function browserLogin(box: Sandbox, user: string): Promise<CliResult> {
  return loginWithBrowser(box, browser!, 'corp', user)
}

async function gatewayCall(gatewayUrl: string, token: string): Promise<number> {
  const response = await fetch(`${gatewayUrl}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude', max_tokens: 8, messages: [{ role: 'user', content: 'ping' }] }),
  })
  await response.text()
  return response.status
}

describe('oidc: browser login, refresh through the daemon, a gateway that verifies against the IdP JWKS', { skip: noBrowser }, () => {
  it('login (auth code + PKCE, loopback) → get → the gateway accepts; rotation survives a daemon restart; revocation → ERR_LOGIN_REQUIRED', async () => {
    const box = sandbox(corpProfile())
    const before = await box.run(['get', 'corp'], { env: NO_REISSUE })
    assert.equal(before.code, 9, show(before))
    assert.match(before.stderr, /not signed in .*\[ERR_LOGIN_REQUIRED\] — run: ccred login corp/)

    const login = await browserLogin(box, 'alice@example.com')
    assert.equal(login.code, 0, show(login))
    assert.match(login.stderr, /signed in for profile corp as alice@example\.com; the refresh token is in the file store/)
    const firstRefresh = storedSecrets(box)[REFRESH_TOKEN_NAME]
    assert.ok(firstRefresh !== undefined && firstRefresh.length > 20, 'the refresh token is in the opted-in store')

    const accepted: JWTPayload[] = []
    const gateway = await startGateway({ verify: verifierFor(accepted) })
    try {
      const got = await box.run(['get', 'corp'], { env: NO_REISSUE })
      assert.equal(got.code, 0, show(got))
      const token = got.stdout.trimEnd()
      assert.equal(got.stdout, `${token}\n`, 'stdout is the token and one newline')
      assert.equal(await gatewayCall(gateway.url, token), 200, String(gateway.requests.at(-1)?.rejection))
      assert.equal(accepted.at(-1)?.sub, 'alice@example.com')
      assert.equal(decodeJwt(token).aud, GATEWAY_AUDIENCE)

      // The daemon refreshed with the stored token; the provider rotated it and ccred stored the new one.
      const rotated = storedSecrets(box)[REFRESH_TOKEN_NAME]
      assert.ok(rotated !== undefined && rotated !== firstRefresh, 'the rotated refresh token replaced the used one')

      // A second daemon (after stop) must use the rotated token: the old one is spent.
      assert.equal((await box.run(['daemon', 'stop'])).code, 0)
      const afterRestart = await box.run(['get', 'corp', '--refresh'], { env: NO_REISSUE })
      assert.equal(afterRestart.code, 0, show(afterRestart))
      assert.notEqual(afterRestart.stdout.trimEnd(), token, 'a new access token')
      assert.equal(await gatewayCall(gateway.url, afterRestart.stdout.trimEnd()), 200)
      const rotatedAgain = storedSecrets(box)[REFRESH_TOKEN_NAME]
      assert.ok(rotatedAgain !== rotated, 'rotated again')

      // Revoked at the IdP (as an admin or another logout would): the daemon's next refresh gets invalid_grant.
      const { revokeAtProvider } = await import('../helpers/oidc-revoke.js')
      await revokeAtProvider(provider.issuer, PUBLIC_CLIENT_ID, rotatedAgain!)
      const revoked = await box.run(['get', 'corp', '--refresh'], { env: NO_REISSUE })
      assert.equal(revoked.code, 9, show(revoked))
      assert.match(revoked.stderr, /identity provider ended the session \(invalid_grant.*\[ERR_LOGIN_REQUIRED\] — run: ccred login corp/)
      assert.equal(storedSecrets(box)[REFRESH_TOKEN_NAME], undefined, 'the dead refresh token is gone')

      const status = await box.run(['status', '--json'])
      const shown = [login.stderr, got.stderr, afterRestart.stderr, revoked.stderr, status.stdout, box.auditLog(), box.daemonLog()].join('\n')
      for (const secret of [firstRefresh!, rotated!, rotatedAgain!]) assert.ok(!shown.includes(secret), 'no refresh token in output or logs')
      assert.ok(!box.auditLog().includes(token) && !box.daemonLog().includes(token), 'no access token in logs')
    } finally {
      await gateway.close()
    }
  })

  it('concurrent gets share one refresh; logout revokes at the IdP, deletes the refresh token and drops the daemon\'s cached token', async () => {
    const box = sandbox(corpProfile())
    assert.equal((await browserLogin(box, 'bob@example.com')).code, 0)
    // Concurrent callers share one refresh: one refresh_token grant at the IdP, one token for all.
    const refreshesBefore = provider.grants.filter((grant) => grant === 'refresh_token').length
    const gets = await Promise.all(Array.from({ length: 8 }, () => box.run(['get', 'corp'], { env: NO_REISSUE, distinctCaller: true })))
    for (const result of gets) assert.equal(result.code, 0, show(result))
    assert.equal(new Set(gets.map((result) => result.stdout)).size, 1, 'every caller got the same token')
    assert.equal(provider.grants.filter((grant) => grant === 'refresh_token').length - refreshesBefore, 1, 'one refresh for eight callers')
    const stored = storedSecrets(box)[REFRESH_TOKEN_NAME]!
    const logout = await box.run(['logout', 'corp'])
    assert.equal(logout.code, 0, show(logout))
    assert.match(logout.stderr, /signed out of profile corp: refresh token deleted from the file store .*; revoked at http:\/\/127\.0\.0\.1/)
    assert.equal(storedSecrets(box)[REFRESH_TOKEN_NAME], undefined)
    const afterLogout = await box.run(['get', 'corp'], { env: NO_REISSUE })
    assert.equal(afterLogout.code, 9, `the daemon forgot the cached token: ${show(afterLogout)}`)
    // The revoked token is dead at the IdP too.
    const { refreshAtProvider } = await import('../helpers/oidc-revoke.js')
    assert.equal(await refreshAtProvider(provider.issuer, PUBLIC_CLIENT_ID, stored), 'invalid_grant')
  })

  it('the device flow (chosen by itself in CI): ccred prints the code, the user confirms it on the provider\'s page, get works', async () => {
    const box = sandbox(corpProfile())
    // No --device: in CI ccred picks the device flow by itself.
    const login = box.start(['login', 'corp'], { env: { CI: 'true' } })
    await login.waitForStderr(/using the device code flow \(running in CI\)/)
    const [, verificationUri] = await login.waitForStderr(/visit (http:\/\/127\.0\.0\.1:\d+\/\S+) and enter the code/)
    const [, userCode] = await login.waitForStderr(/enter the code:\n\n {2}(\S+)\n/)
    const page = await loopbackPage(browser!)
    try {
      await page.goto(verificationUri!)
      await page.locator('input[name="user_code"]').fill(userCode!)
      await page.locator('button[type="submit"]', { hasText: 'Continue' }).click()
      // The provider shows the code again for the user to confirm, then its login and consent.
      await page.locator('button[autofocus]', { hasText: 'Continue' }).click()
      await signInAtProvider(page, 'carol@example.com')
      await page.getByText(/sign-in complete|success/i).first().waitFor()
    } finally {
      await page.context().close()
    }
    const done = await login.done
    assert.equal(done.code, 0, show(done))
    assert.match(done.stderr, /signed in for profile corp as carol@example\.com/)
    const got = await box.run(['get', 'corp'], { env: NO_REISSUE })
    assert.equal(got.code, 0, show(got))
    assert.equal(decodeJwt(got.stdout.trimEnd()).sub, 'carol@example.com')
  })

  it('a cancelled sign-in (the IdP\'s error page) and a login timeout: clear errors, nothing stored', async () => {
    const box = sandbox(corpProfile())
    const cancelled = box.start(['login', 'corp', '--browser'], { env: { CCRED_BROWSER: 'none' } })
    const [url] = await cancelled.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/)
    const page = await loopbackPage(browser!)
    try {
      await page.goto(url)
      await page.getByText('[ Cancel ]').click()
      await page.waitForURL(/\/callback\?/)
      assert.equal(await page.locator('#ccred-result').getAttribute('data-status'), 'failure')
      assert.match(await page.locator('body').innerText(), /access_denied/)
    } finally {
      await page.context().close()
    }
    const refused = await cancelled.done
    assert.equal(refused.code, 7, show(refused))
    assert.match(refused.stderr, /login for profile corp failed: the identity provider answered access_denied.*\[ERR_SOURCE_DENIED\]/)

    box.writeConfig(`[broker]\nstore = "file"\n\n${corpProfile('login_timeout = "3s"')}`)
    const timedOut = await box.run(['login', 'corp', '--browser'], { env: { CCRED_BROWSER: 'none' } })
    assert.equal(timedOut.code, 9, show(timedOut))
    assert.match(timedOut.stderr, /login for profile corp timed out after 3s.*\[ERR_LOGIN_REQUIRED\] — run ccred login corp again/)
    assert.deepEqual(storedSecrets(box), {}, 'no refresh token residue')
  })

  it('the loopback callback refuses a forged or a missing OAuth state: login fails, nothing stored', async () => {
    for (const tamper of ['forged', 'missing'] as const) {
      const box = sandbox(corpProfile())
      const login = box.start(['login', 'corp', '--browser'], { env: { CCRED_BROWSER: 'none' } })
      const [url] = await login.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/)
      const page = await loopbackPage(browser!)
      let callback: URL
      try {
        // The real sign-in yields a real code; the browser never delivers it: the test does, tampered.
        // Playwright does not route a redirect's target, so the provider's redirects after each form
        // are followed here (same cookies) until one points at the callback.
        const reached = new Promise<string>((resolve, reject) => {
          const guard = setTimeout(() => reject(new Error('the provider never redirected to the callback')), 30_000)
          // Only loopback: everything else falls through to the context's route, which aborts it.
          void page.route((target) => target.hostname === '127.0.0.1', async (route) => {
            let response = await route.fetch({ maxRedirects: 0 }).catch(() => undefined)
            if (response === undefined) return route.abort()
            let from = route.request().url()
            for (let hops = 0; response.status() >= 300 && response.status() < 400 && hops < 5; hops++) {
              const target: URL = new URL(response.headers()['location'] ?? '', from)
              if (target.pathname === '/callback') {
                clearTimeout(guard)
                resolve(target.href)
                return route.fulfill({ status: 200, contentType: 'text/plain', body: 'held back by the test' })
              }
              if (!target.pathname.startsWith('/auth/')) break
              response = await page.context().request.get(target.href, { maxRedirects: 0 })
              from = target.href
            }
            return route.fulfill({ response })
          })
        })
        await page.goto(url)
        await signInAtProvider(page, 'mallory@example.com')
        callback = new URL(await reached)
      } finally {
        await page.context().close()
      }
      assert.ok(callback.searchParams.get('code'), 'the provider issued a code')
      assert.equal(callback.searchParams.get('state'), new URL(url).searchParams.get('state'))
      if (tamper === 'forged') callback.searchParams.set('state', 'forged-by-another-site')
      else callback.searchParams.delete('state')
      const answer = await fetch(callback)
      assert.equal(answer.status, 400, `${tamper} state`)
      await answer.text()
      const refused = await login.done
      assert.equal(refused.code, 9, `${tamper} state: ${show(refused)}`)
      assert.match(refused.stderr, /^ccred: login for profile corp failed: .*state.*\[ERR_LOGIN_REQUIRED\] — run: ccred login corp/m, tamper)
      assert.deepEqual(storedSecrets(box), {}, `${tamper} state: no refresh token stored`)
    }
  })
})

describe('oidc: get without a login', () => {
  it('login = "auto" without a terminal (as under Claude Code): ERR_LOGIN_REQUIRED at once, no browser, no wait', async () => {
    const box = sandbox(corpProfile('login = "auto"'), { DISPLAY: ':0' })
    const startedMs = Date.now()
    const got = await box.run(['get', 'corp'], { env: NO_REISSUE, input: '' })
    assert.equal(got.code, 9, show(got))
    assert.match(got.stderr, /\[ERR_LOGIN_REQUIRED\] — run: ccred login corp/)
    assert.doesNotMatch(got.stderr, /starting it|sign in/)
    assert.equal(got.stdout, '')
    assert.ok(Date.now() - startedMs < 10_000, 'no waiting for a login')
  })
})

describe('oidc: CI service accounts (no browser, no keychain)', () => {
  it('client_credentials with client_secret_basic, and private_key_jwt: get returns a JWT the gateway verifies', async () => {
    const box = new Sandbox({ CI_OIDC_SECRET: provider.clientSecret, CI: 'true' })
    sandboxes.push(box)
    const keyFile = box.file('ci-key.pem')
    writeFileSync(keyFile, provider.clientPrivateKeyPem, { mode: 0o600 })
    box.writeConfig(`[broker]\nstore = "file"\n${oidcProfileToml(provider.issuer, 'ci', SECRET_CLIENT)}${oidcProfileToml(provider.issuer, 'ci-key', keyClient(keyFile))}`)

    const accepted: JWTPayload[] = []
    const gateway = await startGateway({ verify: verifierFor(accepted) })
    try {
      for (const profile of ['ci', 'ci-key']) {
        const got = await box.run(['get', profile], { env: NO_REISSUE })
        assert.equal(got.code, 0, show(got))
        assert.equal(await gatewayCall(gateway.url, got.stdout.trimEnd()), 200, String(gateway.requests.at(-1)?.rejection))
        assert.equal(accepted.at(-1)?.client_id, profile === 'ci' ? SECRET_CLIENT_ID : KEY_CLIENT_ID)
      }
      const shown = [box.auditLog(), box.daemonLog()].join('\n')
      assert.ok(!shown.includes(provider.clientSecret), 'the client secret is in no log')
      assert.deepEqual(storedSecrets(box), {}, 'nothing stored')
      const login = await box.run(['login', 'ci'])
      assert.equal(login.code, 2, show(login))
      assert.match(login.stderr, /uses client_credentials \(a service account\): there is no one to sign in/)
    } finally {
      await gateway.close()
    }
  })

  it('token exchange (RFC 8693): the IdP token is traded at the gateway\'s own token service for its credential', async () => {
    const sts = await startTokenExchangeServer({ issuer: provider.issuer, jwksUrl: provider.jwksUrl, audience: GATEWAY_AUDIENCE })
    const box = sandbox(oidcProfileToml(provider.issuer, 'gw', SECRET_CLIENT, `[profiles.gw.oidc.exchange]\nendpoint = "${sts.url}/token"\naudience = "llm-gateway"`), { CI_OIDC_SECRET: provider.clientSecret })
    try {
      const got = await box.run(['get', 'gw', '--json'], { env: NO_REISSUE })
      assert.equal(got.code, 0, show(got))
      const issued = JSON.parse(got.stdout) as { value: string; expiresAt: string }
      const { payload } = await jwtVerify(issued.value, createRemoteJWKSet(new URL(sts.jwksUrl)), { issuer: EXCHANGED_ISSUER, audience: 'llm-gateway' })
      assert.equal(payload.sub, SECRET_CLIENT_ID, 'the gateway credential names the IdP subject')
      assert.deepEqual(sts.exchanged, [SECRET_CLIENT_ID])
      // The token's exp is earlier than now + expires_in (see the exchange server): exact, whatever the clock read.
      assert.equal(Date.parse(issued.expiresAt), payload.exp! * 1000, 'expiry from the exchanged token')

      box.writeConfig(readFileSync(box.configPath, 'utf8').replace('audience = "llm-gateway"', 'audience = "other"'))
      const refused = await box.run(['get', 'gw'], { env: NO_REISSUE })
      assert.equal(refused.code, 7, show(refused))
      assert.match(refused.stderr, /token exchange failed: invalid_target \(unknown audience\)/)
    } finally {
      await sts.close()
    }
  })

  it('a wrong client secret is ERR_SOURCE_DENIED naming the OAuth error, never the secret', async () => {
    const box = sandbox(oidcProfileToml(provider.issuer, 'ci', SECRET_CLIENT), { CI_OIDC_SECRET: 'not-the-secret-123' })
    const got = await box.run(['get', 'ci'], { env: { ...NO_REISSUE, CCRED_NO_DAEMON: '1' } })
    assert.equal(got.code, 7, show(got))
    assert.match(got.stderr, /client_credentials grant at http:\/\/127\.0\.0\.1:\d+ failed: invalid_client \(/)
    assert.ok(!got.stderr.includes('not-the-secret-123'))
  })
})
