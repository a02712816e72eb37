/**
 * The refresh token after an SSO login lands in the REAL OS keychain (a Secret
 * Service in a private dbus session, through keytar) and nowhere else on disk.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { KeychainStore } from '../../src/store/keychain.js'
import { chromiumPath, launchBrowser, loginWithBrowser } from '../helpers/browser.js'
import { LOGIN_CLIENT, oidcProfileToml, startTestProvider } from '../helpers/oidc-provider.js'
import { Sandbox } from '../helpers/sandbox.js'
import { startSecretService } from '../helpers/secret-service.js'

/** Every regular file below `dir`. */
function filesUnder(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...filesUnder(path))
    else if (entry.isFile() && statSync(path).size < 10_000_000) found.push(path)
  }
  return found
}

test('oidc login: the refresh token is in the Secret Service, not in any file; get refreshes from it', async (t) => {
  if (chromiumPath() === undefined) {
    console.log('skipping: chromium is not installed')
    t.skip('chromium is not installed')
    return
  }
  const ss = await startSecretService()
  if (!ss.ok) {
    console.log(`skipping: Secret Service unavailable: ${ss.reason}`)
    t.skip(ss.reason)
    return
  }
  const provider = await startTestProvider()
  const browser = await launchBrowser()
  const bus = { DBUS_SESSION_BUS_ADDRESS: ss.env['DBUS_SESSION_BUS_ADDRESS']! }
  const box = new Sandbox({ ...bus, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' })
  t.after(async () => {
    await browser.close()
    await box.cleanup()
    await provider.close()
    await ss.stop()
  })
  box.writeConfig(oidcProfileToml(provider.issuer, 'corp', LOGIN_CLIENT))
  const login = await loginWithBrowser(box, browser, 'corp', 'dana@example.com')
  assert.equal(login.code, 0, login.stderr)
  assert.match(login.stderr, /the refresh token is in the OS keychain/)

  // keytar in this process, on the test's bus, reads what the CLI filed.
  process.env.DBUS_SESSION_BUS_ADDRESS = bus.DBUS_SESSION_BUS_ADDRESS
  const keychain = new KeychainStore()
  const afterLogin = await keychain.get('oidc:corp:refresh_token')
  assert.ok(afterLogin !== undefined && afterLogin.length > 20, 'the refresh token is in the keychain')

  const got = await box.run(['get', 'corp'])
  assert.equal(got.code, 0, got.stderr)
  const rotated = await keychain.get('oidc:corp:refresh_token')
  assert.ok(rotated !== undefined && rotated !== afterLogin, 'the daemon stored the rotated refresh token in the keychain')

  for (const path of filesUnder(box.root)) {
    const text = readFileSync(path).toString('latin1')
    for (const token of [afterLogin, rotated]) assert.ok(!text.includes(token!), `no refresh token in ${path}`)
  }
  const logout = await box.run(['logout', 'corp'])
  assert.equal(logout.code, 0, logout.stderr)
  assert.equal(await keychain.get('oidc:corp:refresh_token'), undefined, 'logout deleted it from the keychain')
})
