// A profile that names only an OAuth server's URL (no client_id), against a server shaped like
// the Claude apps gateway: OpenID Connect discovery fails, RFC 8414 metadata (path-insertion
// form) works; only the device grant is offered, so `login` picks it and `--browser` is a clear
// usage error; no id_token and no revocation endpoint are normal.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startDeviceOnlyServer } from '../helpers/device-only-server.js'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()

function sandbox(issuer: string): Sandbox {
  const box = new Sandbox()
  sandboxes.push(box)
  box.writeConfig(`
[broker]
store = "file"

[profiles.gw]
source = "oidc"
[profiles.gw.oidc]
issuer = "${issuer}"
`)
  return box
}

describe('oidc: a device-only OAuth server found through RFC 8414 metadata', () => {
  it('login picks the device flow, get and get --refresh work, logout says there is nothing to revoke', async () => {
    const server = await startDeviceOnlyServer()
    try {
      const box = sandbox(server.issuer)
      const browser = await box.run(['login', 'gw', '--browser'])
      assert.equal(browser.code, 2, browser.stderr)
      assert.match(browser.stderr, new RegExp(`${server.issuer.replace(/[./]/g, '\\$&')} offers no authorization endpoint, so there is no browser sign-in for profile gw.*\\[ERR_USAGE\\]`))
      assert.match(browser.stderr, /ccred login gw --device/)
      assert.doesNotMatch(browser.stderr, /ERR_INTERNAL/)
      assert.ok(server.requests.includes('GET /.well-known/openid-configuration/tenant-a') || server.requests.includes('GET /tenant-a/.well-known/openid-configuration'), `OpenID discovery was tried first: ${server.requests.join(', ')}`)
      assert.ok(server.requests.includes('GET /.well-known/oauth-authorization-server/tenant-a'), 'then RFC 8414 with the path inserted')

      const login = box.start(['login', 'gw'], { env: { CCRED_BROWSER: 'none' } })
      const [, userCode] = await login.waitForStderr(/enter the code:\s+(\S+)/)
      assert.match(login.stderr(), /using the device code flow \(.* offers only the device code flow\)/)
      server.approve(userCode!)
      const done = await login.done
      assert.equal(done.code, 0, done.stderr)
      assert.match(done.stderr, /signed in for profile gw;/)
      assert.doesNotMatch(done.stderr, /warning|id_token/i)

      const first = await box.run(['get', 'gw'])
      assert.equal(first.code, 0, first.stderr)
      assert.match(first.stdout, /^at-[0-9a-f]{24}\n$/)
      const refreshed = await box.run(['get', 'gw', '--refresh'])
      assert.equal(refreshed.code, 0, refreshed.stderr)
      assert.match(refreshed.stdout, /^at-[0-9a-f]{24}\n$/)
      assert.notEqual(refreshed.stdout, first.stdout)
      assert.deepEqual(server.grants.filter((grant) => grant === 'refresh_token').length, 2, 'get and get --refresh each traded the rotating refresh token')

      const logout = await box.run(['logout', 'gw'])
      assert.equal(logout.code, 0, logout.stderr)
      assert.match(logout.stderr, /signed out of profile gw: refresh token deleted from .* and the cached token forgotten; .* has no revocation endpoint, so nothing was revoked there/)
      assert.doesNotMatch(logout.stderr, /warning/)
      const after = await box.run(['get', 'gw'])
      assert.match(after.stderr, /\[ERR_LOGIN_REQUIRED\]/)
    } finally {
      await server.close()
    }
  })

  it('when neither document exists, the error names both and keeps ERR_SOURCE_UNAVAILABLE', async () => {
    const server = await startDeviceOnlyServer()
    try {
      const box = sandbox(`${server.issuer}-missing`)
      const failed = await box.run(['login', 'gw', '--device'])
      assert.notEqual(failed.code, 0)
      assert.match(failed.stderr, /oidc: discovery of http:\/\/127\.0\.0\.1:\d+\/tenant-a-missing failed: .*; RFC 8414 metadata: .*\[ERR_SOURCE_UNAVAILABLE\]/)
      assert.match(failed.stderr, /oauth-authorization-server/)
    } finally {
      await server.close()
    }
  })
})
