// ccred against the real Claude apps gateway (`claude gateway` from the Claude Code binary) on
// loopback: a private PostgreSQL cluster, oidc-provider as the gateway's IdP, the Anthropic
// Messages stub as its upstream, and headless Chromium approving the device code. A profile
// names only the gateway's URL; ccred finds its RFC 8414 metadata, signs in with the device
// flow (the only grant offered), hands the gateway's JWT to Claude Code as apiKeyHelper, and
// recovers from a jwt_secret rotation through Claude Code's 401 re-run and the broker's re-issue.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { decodeJwt } from 'jose'
import { chromiumPath, launchBrowser, loopbackPage, signInAtProvider } from '../helpers/browser.js'
import { runClaude } from '../helpers/claude.js'
import { freeLoopbackPort, startClaudeGateway, startGatewayIdp, type ClaudeGateway, type GatewayIdp } from '../helpers/claude-gateway.js'
import { claudeEnv, claudeMissing, describeRun } from '../helpers/claude-world.js'
import { startGateway as startUpstream, type Gateway as Upstream } from '../helpers/gateway.js'
import { postgresMissing, startPostgres, type PostgresCluster } from '../helpers/postgres.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 60_000
const LOGIN_WAIT_MS = 30_000
const UPSTREAM_KEY = 'upstream-key-for-the-gateway'
const USER = 'dev@example.com'

/** One Messages request straight to the gateway, as a script or the Agent SDK would send it. */
async function askGateway(gateway: ClaudeGateway, token: string): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'ping' }] }),
    signal: AbortSignal.timeout(15_000),
  })
  await response.arrayBuffer()
  return response.status
}

test('the Claude apps gateway: device login, get, refresh, Claude Code through the gateway, 401 after secret rotation re-issued, logout', { timeout: 170_000 }, async (t) => {
  if (claudeMissing(t)) return
  const missing = chromiumPath() === undefined ? 'chromium is not installed (the CI image installs Debian\'s chromium)' : postgresMissing()
  if (missing !== undefined) {
    console.log(`skipping: ${missing}`)
    t.skip(missing)
    return
  }
  let postgres: PostgresCluster | undefined
  let upstream: Upstream | undefined
  let idp: GatewayIdp | undefined
  let gateway: ClaudeGateway | undefined
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined
  const sandbox = new Sandbox()
  const bootStartedMs = Date.now()
  try {
    postgres = await startPostgres()
    upstream = await startUpstream({ rejectValues: (value) => value !== UPSTREAM_KEY })
    const port = await freeLoopbackPort()
    idp = await startGatewayIdp(`http://127.0.0.1:${port}`)
    gateway = await startClaudeGateway({ port, idp, postgres, upstreamUrl: upstream.url, upstreamKey: UPSTREAM_KEY })
    t.diagnostic(`stack up in ${Date.now() - bootStartedMs} ms: gateway ${gateway.url}, IdP ${idp.issuer}, postgres :${postgres.port}`)
    const running = gateway
    const details = (extra = ''): string => `gateway log:\n${running.log().slice(-4000)}\naudit:\n${sandbox.auditLog()}\ndaemon:\n${sandbox.daemonLog()}\n${extra}`

    // The whole profile: the gateway's URL. No client_id (the gateway ignores it), no scopes.
    sandbox.writeConfig(`
[broker]
store = "file"

[profiles.gw]
source = "oidc"
[profiles.gw.oidc]
issuer = "${gateway.url}"
`)

    // No authorization endpoint: --browser is the user's mistake, said with the way out.
    const browserLogin = await sandbox.run(['login', 'gw', '--browser'], { timeoutMs: 20_000 })
    assert.equal(browserLogin.code, 2, browserLogin.stderr)
    assert.match(browserLogin.stderr, /offers no authorization endpoint.*\[ERR_USAGE\]/)
    assert.match(browserLogin.stderr, /ccred login gw --device/)
    assert.doesNotMatch(browserLogin.stderr, /ERR_INTERNAL/)

    // `ccred login gw` with no flag picks the device flow: it is all the gateway offers.
    browser = await launchBrowser()
    const login = sandbox.start(['login', 'gw'], { env: { CCRED_BROWSER: 'none' }, timeoutMs: 2 * LOGIN_WAIT_MS })
    const [, verificationUrl] = await login.waitForStderr(/\(or open (http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\S+)\)/, LOGIN_WAIT_MS)
    assert.match(login.stderr(), /offers only the device code flow/)
    const page = await loopbackPage(browser)
    try {
      await page.goto(verificationUrl!)
      await page.locator('button.go').click()
      await signInAtProvider(page, USER)
      await page.waitForURL((url) => url.origin === running.url, { timeout: 15_000 })
    } finally {
      await page.context().close()
    }
    const loggedIn = await login.done
    assert.equal(loggedIn.code, 0, `${loggedIn.stderr}\n${details()}`)
    assert.match(loggedIn.stderr, /signed in for profile gw/)
    assert.doesNotMatch(loggedIn.stderr, /warning/i, 'no id_token is normal, not a warning')

    // get: the gateway's own JWT, which the gateway accepts from any client.
    const first = await sandbox.run(['get', 'gw'], { timeoutMs: 20_000 })
    assert.equal(first.code, 0, `${first.stderr}\n${details()}`)
    const token1 = first.stdout.trim()
    assert.equal(first.stdout, `${token1}\n`, 'stdout is the token and one newline')
    const claims1 = decodeJwt(token1)
    assert.equal(claims1.aud, 'claude-gateway')
    assert.equal(claims1.email, USER)
    assert.equal(await askGateway(running, token1), 200, details())

    // get --refresh: a refresh at the gateway, which refreshes at the IdP and mints anew.
    const refreshesBefore = countRefreshes(running.log())
    const grantsBefore = idp.grants.filter((grant) => grant === 'refresh_token').length
    const second = await sandbox.run(['get', 'gw', '--refresh'], { timeoutMs: 20_000 })
    assert.equal(second.code, 0, `${second.stderr}\n${details()}`)
    const token2 = second.stdout.trim()
    assert.ok(countRefreshes(running.log()) > refreshesBefore, `the gateway logged a session refresh\n${details()}`)
    assert.ok(idp.grants.filter((grant) => grant === 'refresh_token').length > grantsBefore, 'the gateway refreshed at the IdP')
    const claims2 = decodeJwt(token2)
    assert.ok((claims2.exp ?? 0) >= (claims1.exp ?? 0))
    if (claims2.iat !== claims1.iat) assert.notEqual(token2, token1, 'a token minted in another second differs')
    assert.equal(await askGateway(running, token2), 200, details())

    // Claude Code answers through the gateway with ccred as its apiKeyHelper, as `setup claude` writes it.
    const setup = await sandbox.run(['setup', 'claude', 'gw', '--gateway', running.url], { timeoutMs: 20_000 })
    assert.equal(setup.code, 0, setup.stderr)
    const written = JSON.parse(readFileSync(join(sandbox.home, '.claude', 'settings.json'), 'utf8')) as { apiKeyHelper?: string; env?: Record<string, string> }
    assert.match(written.apiKeyHelper ?? '', / get gw$/)
    assert.equal(written.env?.ANTHROPIC_BASE_URL, running.url)
    assert.equal(written.env?.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1')
    const doctor = await sandbox.run(['doctor', 'gw'], { timeoutMs: 30_000 })
    assert.equal(doctor.code, 0, doctor.stdout)
    assert.match(doctor.stdout, /^claude credential +ok +Claude Code sends the apiKeyHelper value/m)
    assert.ok(!doctor.stdout.includes(token2), 'doctor never prints the token')
    const env = claudeEnv(sandbox)
    const firstRun = await runClaude({ home: sandbox.home, env, timeoutMs: CLAUDE_TIMEOUT_MS })
    assert.equal(firstRun.code, 0, describeRun(firstRun, sandbox, details()))
    assert.match(firstRun.stdout, /pong/)
    const upstreamCalls = upstream.requests.filter((request) => request.method === 'POST' && request.path.startsWith('/v1/messages'))
    assert.ok(upstreamCalls.length >= 1 && upstreamCalls.every((request) => request.status === 200), 'the gateway reached the upstream with its own key')

    // A new jwt_secret: every token minted before is refused with 401.
    await running.rotateSecret()
    assert.equal(await askGateway(running, token2), 401, details())
    const reissuesBefore = sandbox.auditLines().filter((line) => line.served === 'reissue').length
    const secondRun = await runClaude({ home: sandbox.home, env, timeoutMs: CLAUDE_TIMEOUT_MS })
    assert.equal(secondRun.code, 0, describeRun(secondRun, sandbox, details()))
    assert.match(secondRun.stdout, /pong/)
    assert.ok(sandbox.auditLines().filter((line) => line.served === 'reissue').length > reissuesBefore, `Claude Code's re-run after the 401 got a re-issued token\n${details()}`)
    const third = await sandbox.run(['get', 'gw'], { timeoutMs: 20_000 })
    assert.equal(third.code, 0, third.stderr)
    assert.equal(await askGateway(running, third.stdout.trim()), 200, 'the re-issued token is valid under the new secret')

    // A script or Agent SDK app under `ccred exec`: ANTHROPIC_AUTH_TOKEN is the gateway's token.
    const script = `fetch(process.env.GW_URL + '/v1/messages', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.ANTHROPIC_AUTH_TOKEN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'ping' }] }) }).then(async (r) => { console.log(r.status, JSON.stringify(await r.json())) })`
    const exec = await sandbox.run(['exec', 'gw', '--', process.execPath, '-e', script], { env: { GW_URL: running.url }, timeoutMs: 30_000 })
    assert.equal(exec.code, 0, exec.stderr)
    assert.match(exec.stdout, /^200 .*pong/)

    for (const token of [token1, token2, third.stdout.trim()]) {
      assert.ok(!sandbox.auditLog().includes(token), 'no token in the audit log')
      assert.ok(!sandbox.daemonLog().includes(token), 'no token in the daemon log')
    }

    // logout: the local tokens are gone; the gateway has no revocation endpoint, and that is said plainly.
    const logout = await sandbox.run(['logout', 'gw'], { timeoutMs: 20_000 })
    assert.equal(logout.code, 0, logout.stderr)
    assert.match(logout.stderr, /refresh token deleted/)
    assert.match(logout.stderr, /no revocation endpoint/)
    assert.doesNotMatch(logout.stderr, /warning/i)
    const after = await sandbox.run(['get', 'gw'], { timeoutMs: 20_000 })
    assert.notEqual(after.code, 0)
    assert.equal(after.stdout, '')
    assert.match(after.stderr, /\[ERR_LOGIN_REQUIRED\]/)
    assert.match(after.stderr, /ccred login gw/)
    t.diagnostic(`whole pass ${Date.now() - bootStartedMs} ms; claude runs ${firstRun.durationMs} + ${secondRun.durationMs} ms`)
  } finally {
    await browser?.close().catch(() => undefined)
    await sandbox.cleanup()
    await gateway?.stop()
    await idp?.close()
    await upstream?.close()
    await postgres?.stop()
  }
})

/** The gateway's JSON log lines for a successful session refresh. */
function countRefreshes(log: string): number {
  return log.split('\n').filter((line) => line.includes('session.refresh') && line.includes('success')).length
}
