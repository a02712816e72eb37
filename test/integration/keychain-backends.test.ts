/**
 * The keychain's two native bindings against a real Secret Service (gnome-keyring on a
 * private D-Bus session), through the real CLI and daemon: keytar (built from source) and
 * the prebuilt @napi-rs/keyring fallback that serves when keytar cannot be loaded.
 * CCRED_KEYCHAIN_BACKEND allows one binding only, which is how an install without keytar
 * looks to ccred. What `status` and `doctor` say must be true in each case.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { describeResult, Sandbox } from '../helpers/sandbox.js'
import { startSecretService } from '../helpers/secret-service.js'

const CONFIG = `
[profiles.gw]
source = "static"
value = "keychain:gw-key"
`


test('keychain bindings: the fallback serves without keytar, keytar finds what the fallback stored, and status/doctor say which', async (t) => {
  const ss = await startSecretService()
  if (!ss.ok) {
    console.log(`skipping: Secret Service unavailable: ${ss.reason}`)
    t.skip(ss.reason)
    return
  }
  const bus = { DBUS_SESSION_BUS_ADDRESS: ss.env['DBUS_SESSION_BUS_ADDRESS']! }
  const napiOnly = new Sandbox({ ...bus, CCRED_KEYCHAIN_BACKEND: '@napi-rs/keyring' })
  const both = new Sandbox(bus)
  const neither = new Sandbox({ ...bus, CCRED_KEYCHAIN_BACKEND: 'none' })
  t.after(async () => {
    await Promise.all([napiOnly.cleanup(), both.cleanup(), neither.cleanup()])
    await ss.stop()
  })
  const secret = `sk-fallback-${randomBytes(12).toString('hex')}`

  // keytar "missing": the prebuilt binding stores and serves, and status names it.
  napiOnly.writeConfig(CONFIG)
  const set = await napiOnly.run(['set', 'gw'], { input: `${secret}\n` })
  assert.equal(set.code, 0, describeResult(set))
  const got = await napiOnly.run(['get', 'gw'])
  assert.equal(got.code, 0, describeResult(got))
  assert.equal(got.stdout, `${secret}\n`)
  const status = await napiOnly.run(['status'])
  assert.equal(status.code, 0, describeResult(status))
  assert.match(status.stdout, /^store: {3}the OS keychain \(service "ccred"\) via @napi-rs\/keyring$/m)
  const statusJson = JSON.parse((await napiOnly.run(['status', '--json'])).stdout) as { store: { availability?: { ok: boolean; detail: string } } }
  assert.deepEqual(statusJson.store.availability, { ok: true, detail: 'via @napi-rs/keyring' })

  // keytar back: the secret the fallback stored (under its own attributes) is still found.
  both.writeConfig(CONFIG)
  const viaKeytar = await both.run(['get', 'gw'])
  assert.equal(viaKeytar.code, 0, describeResult(viaKeytar))
  assert.equal(viaKeytar.stdout, `${secret}\n`)
  assert.match((await both.run(['status'])).stdout, /^store: {3}the OS keychain \(service "ccred"\) via keytar$/m)

  // Neither binding: status and doctor say so with a fix; get is a coded error, never a silent miss.
  neither.writeConfig(CONFIG)
  const missing = await neither.run(['get', 'gw'])
  assert.equal(missing.code, 10, describeResult(missing))
  assert.match(missing.stderr, /keychain unavailable: .*\[ERR_KEYCHAIN_UNAVAILABLE\]/)
  assert.match(missing.stderr, /store = "file"/)
  const down = await neither.run(['status'])
  assert.match(down.stdout, /^store: {3}keychain unavailable: CCRED_KEYCHAIN_BACKEND=none allows neither keytar nor @napi-rs\/keyring$/m)
  assert.match(down.stdout, /^ {9}fix: unset CCRED_KEYCHAIN_BACKEND .*store = "file"/m)
  assert.doesNotMatch(down.stdout, /npm rebuild keytar/, "a fix that would change nothing")
  // gw is named on the command line (no hook names it here): checked strictly, the store it needs fails the run.
  const doctor = await neither.run(['doctor', 'gw'])
  assert.notEqual(doctor.code, 0, describeResult(doctor))
  assert.match(doctor.stdout + doctor.stderr, /secret store.*keychain unavailable/)

  for (const output of [set, got, status, viaKeytar, missing, down, doctor]) {
    assert.ok(!output.stderr.includes(secret), 'no secret on stderr')
  }
  assert.ok(!down.stdout.includes(secret) && !status.stdout.includes(secret))
})

test('keychain: @napi-rs/keyring with no Secret Service to reach is ERR_KEYCHAIN_UNAVAILABLE, not a missing secret', async (t) => {
  // The crate answers a read with null (not an error) when D-Bus has no Secret Service:
  // reported as "no such secret" that was ERR_REFERENCE, which sends the user to `ccred set`.
  const sandbox = new Sandbox({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/ccred-no-bus', CCRED_KEYCHAIN_BACKEND: '@napi-rs/keyring' })
  t.after(() => sandbox.cleanup())
  sandbox.writeConfig(CONFIG)
  const got = await sandbox.run(['get', 'gw'])
  assert.equal(got.code, 10, describeResult(got))
  assert.match(got.stderr, /\[ERR_KEYCHAIN_UNAVAILABLE\]/)
  assert.doesNotMatch(got.stderr, /ERR_REFERENCE/)
})
