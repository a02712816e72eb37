/**
 * `ccred set` / `ccred get` against the secret stores, through the real CLI and
 * the daemon it autostarts:
 *  1. a REAL Secret Service (gnome-keyring in a private dbus session) via keytar,
 *  2. no Secret Service at all (a CI runner): a clear ERR_KEYCHAIN_UNAVAILABLE
 *     that does not take the daemon or other profiles down,
 *  3. the opt-in file store (`[broker] store = "file"`).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { repoRoot } from '../helpers/claude.js'
import { describeResult, Sandbox } from '../helpers/sandbox.js'
import { startSecretService } from '../helpers/secret-service.js'

/** Everything that could lead libsecret/GDBus to some session bus: removed for the "no Secret Service" runs. */
const NO_BUS: Record<string, undefined> = {
  DBUS_SESSION_BUS_ADDRESS: undefined,
  DBUS_STARTER_ADDRESS: undefined,
  DBUS_STARTER_BUS_TYPE: undefined,
  DISPLAY: undefined,
  WAYLAND_DISPLAY: undefined,
  XDG_RUNTIME_DIR: undefined,
}

/**
 * TTL 0 turns off the broker's 401 heuristic (the same caller asking again inside
 * the TTL gets a re-issue), so a repeated `get` from this test is a plain cache hit
 * and "served" is deterministic.
 */
const NO_REISSUE = { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' }

const GW_CONFIG = `
[profiles.gw]
source = "static"
value = "keychain:gw-key"

[profiles.fresh]
source = "static"
value = "keychain:fresh-key"

[profiles.envkey]
source = "static"
value = "env:X"

[profiles.demo]
source = "demo"
`

function secret(label: string): string {
  // Printable, with characters a careless shell or JSON layer would mangle.
  return `sk-${label}-${randomBytes(12).toString('hex')}+/=.~_`
}


/** The `served` field of each audit-log issuance for a profile, in order. */
function servedLog(sandbox: Sandbox, profile: string): string[] {
  return sandbox.auditLog().split('\n').filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { event: string; profile: string; served?: string })
    .filter((entry) => entry.event === 'issue' && entry.profile === profile)
    .map((entry) => entry.served ?? '?')
}

/**
 * Child program (ESM): loads keytar the way ccred does (createRequire from the
 * repo root) and prints getPassword("ccred", account) as JSON.
 */
const KEYTAR_GET = String.raw`
import { createRequire } from 'node:module'
const req = createRequire(process.env.CCRED_T_ROOT + '/package.json')
try {
  const loaded = req('keytar')
  const keytar = loaded.default ?? loaded
  const value = await keytar.getPassword('ccred', process.env.CCRED_T_ACCOUNT)
  console.log(JSON.stringify({ ok: true, value }))
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message || e) }))
}
`

/** What keytar in a separate process, on the given bus, holds for service "ccred". */
function keytarGet(env: Record<string, string>, account: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', KEYTAR_GET], {
      cwd: repoRoot(),
      env: { ...process.env, ...env, CCRED_T_ROOT: repoRoot(), CCRED_T_ACCOUNT: account },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      try {
        const report = JSON.parse(out.trim().split('\n').pop() ?? '') as { ok: boolean; value?: string | null; error?: string }
        if (report.ok) resolve(report.value ?? null)
        else reject(new Error(`keytar child failed: ${report.error ?? '?'}`))
      } catch {
        reject(new Error(`keytar child gave no report (exit ${String(code)}): ${out} ${err}`))
      }
    })
  })
}

test('keychain: set and get through a real Secret Service', async (t) => {
  const ss = await startSecretService()
  if (!ss.ok) {
    console.log(`skipping: Secret Service unavailable: ${ss.reason}`)
    t.skip(ss.reason)
    return
  }
  const bus = { DBUS_SESSION_BUS_ADDRESS: ss.env['DBUS_SESSION_BUS_ADDRESS']! }
  const sandbox = new Sandbox({ ...bus, ...NO_REISSUE })
  t.after(async () => {
    await sandbox.cleanup()
    await ss.stop()
  })
  sandbox.writeConfig(GW_CONFIG)
  const first = secret('first')
  const second = secret('second')

  // set from a pipe (a trailing newline is how `echo` ends it and is dropped)
  const set1 = await sandbox.run(['set', 'gw'], { input: `${first}\n` })
  assert.equal(set1.code, 0, describeResult(set1))
  assert.equal(set1.stdout, '', 'set prints nothing on stdout')
  assert.match(set1.stderr, /stored the secret for profile gw as keychain:gw-key in the OS keychain/)
  assert.ok(!set1.stderr.includes(first), 'set never echoes the secret')
  assert.equal(await keytarGet(ss.env, 'gw-key'), first, 'keytar in another process finds it under service "ccred", account "gw-key"')

  // the first get autostarts the daemon (with the bus in its env) and fetches
  const get1 = await sandbox.run(['get', 'gw'])
  assert.equal(get1.code, 0, describeResult(get1))
  assert.equal(get1.stdout, `${first}\n`, 'stdout is exactly the secret and one newline')
  assert.equal(get1.stderr, '', describeResult(get1))
  const daemonPid = sandbox.daemonPid()
  assert.ok(daemonPid !== undefined, 'the get autostarted the daemon')

  // the daemon now caches the first value
  const get2 = await sandbox.run(['get', 'gw', '--json'])
  assert.equal(get2.code, 0, describeResult(get2))
  const issued2 = JSON.parse(get2.stdout) as { value: string; served: string }
  assert.equal(issued2.value, first)
  assert.equal(issued2.served, 'hit', 'the second get is served from the daemon cache')

  // a new value: `set` purges the daemon's cached copy
  const set2 = await sandbox.run(['set', 'gw'], { input: second })
  assert.equal(set2.code, 0, describeResult(set2))
  assert.ok(!set2.stderr.includes('warning'), `set purged the daemon cache without complaint: ${set2.stderr}`)
  const get3 = await sandbox.run(['get', 'gw'])
  assert.equal(get3.code, 0, describeResult(get3))
  assert.equal(get3.stdout, `${second}\n`, 'the get after set returns the new value, not the cached old one')
  assert.equal(sandbox.daemonPid(), daemonPid, 'the same daemon served it (no restart hid a stale cache)')
  assert.deepEqual(servedLog(sandbox, 'gw'), ['fetch', 'hit', 'fetch'], 'audit: fetched, hit, fetched again after the purge')
  assert.equal(await keytarGet(ss.env, 'gw-key'), second)

  // no secret in status, status --json, the audit log or the daemon log
  const status = await sandbox.run(['status'])
  assert.equal(status.code, 0, describeResult(status))
  assert.match(status.stdout, /daemon:\s+running/)
  assert.match(status.stdout, /store:\s+the OS keychain/)
  const statusJson = await sandbox.run(['status', '--json'])
  assert.equal(statusJson.code, 0, describeResult(statusJson))
  const parsed = JSON.parse(statusJson.stdout) as { daemon: { running: boolean }; store: { kind: string; description: string } }
  assert.equal(parsed.daemon.running, true)
  assert.equal(parsed.store.kind, 'keychain')
  assert.ok(sandbox.auditLog().length > 0, 'the audit log was written')
  const places: [string, string][] = [
    ['status', status.stdout + status.stderr],
    ['status --json', statusJson.stdout + statusJson.stderr],
    ['audit log', sandbox.auditLog()],
    ['daemon log', sandbox.daemonLog()],
  ]
  for (const [where, text] of places) {
    for (const value of [first, second]) assert.ok(!text.includes(value), `${where} does not contain the secret`)
    // also no recognisable fragment of it
    for (const value of [first, second]) assert.ok(!text.includes(value.slice(3, 27)), `${where} does not contain part of the secret`)
  }

  // empty input: usage error, nothing stored
  const empty = await sandbox.run(['set', 'fresh'], { input: '' })
  assert.equal(empty.code, 2, describeResult(empty))
  assert.match(empty.stderr, /^ccred: .*empty.* \[ERR_USAGE\] — /)
  assert.equal(await keytarGet(ss.env, 'fresh-key'), null, 'nothing stored for empty input')
  const justNewline = await sandbox.run(['set', 'gw'], { input: '\n' })
  assert.equal(justNewline.code, 2, describeResult(justNewline))

  // two lines: usage error, the stored value is untouched
  const twoLines = await sandbox.run(['set', 'gw'], { input: 'line-one\nline-two\n' })
  assert.equal(twoLines.code, 2, describeResult(twoLines))
  assert.match(twoLines.stderr, /\[ERR_USAGE\] — .*single line/)
  assert.ok(!twoLines.stderr.includes('line-one'), 'the rejected input is not echoed')
  const twoLinesFresh = await sandbox.run(['set', 'fresh'], { input: 'line-one\nline-two' })
  assert.equal(twoLinesFresh.code, 2, describeResult(twoLinesFresh))
  assert.equal(await keytarGet(ss.env, 'fresh-key'), null, 'nothing stored for two-line input')
  assert.equal(await keytarGet(ss.env, 'gw-key'), second, 'rejected sets left the stored value alone')
  const get4 = await sandbox.run(['get', 'gw'])
  assert.equal(get4.stdout, `${second}\n`, describeResult(get4))

  // a profile that does not read the keychain: nothing to set, and a hint how to change that
  const envProfile = await sandbox.run(['set', 'envkey'], { input: 'whatever' })
  assert.equal(envProfile.code, 2, describeResult(envProfile))
  assert.match(envProfile.stderr, /^ccred: profile envkey .*\[ERR_USAGE\] — .*value = "keychain:envkey"/)
  assert.equal(envProfile.stderr.trim().split('\n').length, 1, 'one line on stderr')

  // a keychain reference with nothing stored: ERR_REFERENCE naming the store, with `ccred set` as hint
  const missing = await sandbox.run(['get', 'fresh'])
  assert.equal(missing.code, 5, describeResult(missing))
  assert.equal(missing.stdout, '')
  assert.match(missing.stderr, /no secret named "fresh-key" in the OS keychain.*\[ERR_REFERENCE\] — store it with: ccred set fresh/)
})

test('keychain: no Secret Service gives ERR_KEYCHAIN_UNAVAILABLE and leaves the daemon serving others', async (t) => {
  const sandbox = new Sandbox()
  t.after(() => sandbox.cleanup())
  sandbox.writeConfig(GW_CONFIG)
  const env = { ...NO_BUS, ...NO_REISSUE }

  // A hang fails through the run's own timeout, not a wall-clock bound that load would break.
  const get = await sandbox.run(['get', 'gw'], { env, timeoutMs: 30_000 })
  assert.equal(get.code, 10, describeResult(get))
  assert.equal(get.stdout, '', 'nothing on stdout')
  assert.match(get.stderr, /^ccred: .*\[ERR_KEYCHAIN_UNAVAILABLE\] — .*store = "file"/)
  assert.equal(get.stderr.trim().split('\n').length, 1, `one line on stderr: ${get.stderr}`)
  const daemonPid = sandbox.daemonPid()
  assert.ok(daemonPid !== undefined, 'the get went through an autostarted daemon')

  // the same daemon still serves a profile that needs no keychain
  const demo = await sandbox.run(['get', 'demo'], { env })
  assert.equal(demo.code, 0, describeResult(demo))
  assert.match(demo.stdout, /^ccred-demo-[0-9a-f]{32}\n$/)
  assert.equal(sandbox.daemonPid(), daemonPid, 'the daemon survived the keychain failure')

  // and status shows the failure without failing itself
  const status = await sandbox.run(['status', '--json'], { env })
  assert.equal(status.code, 0, describeResult(status))
  const parsed = JSON.parse(status.stdout) as { daemon: { running: boolean; pid?: number }; store: { kind: string }; profiles: { profile: string; lastError?: { code: string } }[] }
  assert.equal(parsed.daemon.running, true)
  assert.equal(parsed.daemon.pid, daemonPid)
  assert.equal(parsed.store.kind, 'keychain')
  assert.equal(parsed.profiles.find((p) => p.profile === 'gw')?.lastError?.code, 'ERR_KEYCHAIN_UNAVAILABLE')

  // set cannot store either
  const set = await sandbox.run(['set', 'gw'], { env, input: 'sk-never-stored' })
  assert.equal(set.code, 10, describeResult(set))
  assert.match(set.stderr, /^ccred: .*\[ERR_KEYCHAIN_UNAVAILABLE\] — .*store = "file"/)
  assert.ok(!set.stderr.includes('sk-never-stored'))
})

test('file store: opt-in set and get without any Secret Service, and refusal of a readable file', async (t) => {
  const sandbox = new Sandbox()
  t.after(() => sandbox.cleanup())
  sandbox.writeConfig(`[broker]\nstore = "file"\n${GW_CONFIG}`)
  const env = { ...NO_BUS, ...NO_REISSUE }
  const value = secret('file')
  const storePath = join(sandbox.dataDir, 'secrets.json')

  const set = await sandbox.run(['set', 'gw'], { env, input: `${value}\n` })
  assert.equal(set.code, 0, describeResult(set))
  assert.ok(set.stderr.includes(storePath), `set names the file store: ${set.stderr}`)
  assert.ok(!set.stderr.includes(value))

  assert.ok(existsSync(storePath), 'the file store was written')
  assert.equal(statSync(storePath).mode & 0o777, 0o600, 'the file is 0600')
  assert.equal(statSync(sandbox.dataDir).mode & 0o777, 0o700, 'its directory is 0700')

  const get = await sandbox.run(['get', 'gw'], { env })
  assert.equal(get.code, 0, describeResult(get))
  assert.equal(get.stdout, `${value}\n`)
  assert.equal(get.stderr, '', describeResult(get))
  assert.ok(sandbox.daemonPid() !== undefined, 'served by the autostarted daemon')

  const status = await sandbox.run(['status'], { env })
  assert.equal(status.code, 0, describeResult(status))
  assert.ok(status.stdout.includes(`store:   the file store ${storePath}`), status.stdout)
  const statusJson = await sandbox.run(['status', '--json'], { env })
  const parsed = JSON.parse(statusJson.stdout) as { store: { kind: string; description: string } }
  assert.equal(parsed.store.kind, 'file')
  assert.ok(parsed.store.description.includes(storePath))
  for (const text of [status.stdout, statusJson.stdout, sandbox.auditLog(), sandbox.daemonLog()]) assert.ok(!text.includes(value))

  // made group-readable: refused, in the daemon (forced fetch), in-process, and by set
  chmodSync(storePath, 0o640)
  const refusal = /^ccred: .*file store: .*secrets\.json is accessible to other users \(mode 640\).*\[ERR_CONFIG\] — run: chmod 600 /
  const refreshed = await sandbox.run(['get', 'gw', '--refresh'], { env })
  assert.equal(refreshed.code, 3, describeResult(refreshed))
  assert.equal(refreshed.stdout, '')
  assert.match(refreshed.stderr, refusal)
  const inProcess = await sandbox.run(['get', 'gw'], { env: { ...env, CCRED_NO_DAEMON: '1' } })
  assert.equal(inProcess.code, 3, describeResult(inProcess))
  assert.equal(inProcess.stdout, '')
  assert.match(inProcess.stderr, refusal)
  const setAgain = await sandbox.run(['set', 'gw'], { env, input: 'sk-other' })
  assert.equal(setAgain.code, 3, describeResult(setAgain))
  assert.match(setAgain.stderr, refusal)
  assert.equal(statSync(storePath).mode & 0o777, 0o640, 'ccred did not silently chmod the file')
})
