// The broker at its edges (issue 12), on the real daemon: an upstream budget that no caller can
// break, one rule for helper TTL vs lifetime, exec helpers that cannot hang or leak, core dumps off
// outside the daemon too, and a broken config said out loud. Upstream calls are counted by the
// helpers themselves (one line per run in a file); outputs are scanned for every 8-character
// piece of the secrets.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { FORCED_BUCKET_CAPACITY, FORCED_REFILL_MS, REFRESH_FLOOR_FRACTION } from '../../src/broker/budget.js'
import { requestDaemon, type DaemonResponse } from '../../src/client/transport.js'
import { ROUTES } from '../../src/protocol.js'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()
const strays: number[] = []
function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const box = new Sandbox(extraEnv)
  sandboxes.push(box)
  return box
}
after(async () => {
  for (const pid of strays) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  }
})

function runs(counterFile: string): number {
  return existsSync(counterFile) ? readFileSync(counterFile, 'utf8').split('\n').filter(Boolean).length : 0
}

/** A helper that counts its runs and prints a fresh token living `expiresInS` seconds. */
const COUNTING_JSON = (counterFile: string, expiresInS: number) => `#!/bin/sh
echo run >> ${counterFile}
echo "{\\"token\\": \\"tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')\\", \\"expires_in\\": ${expiresInS}}"
`

interface ProfileStatusJson {
  profile: string
  cached: boolean
  refreshing: boolean
  lastRefreshAt?: string
  nextRefreshAt?: string
  fetches: number
  consecutiveFailures: number
  lastError?: { code: string; message: string }
  budget?: { forcedTokens: number; forcedCapacity: number; forcedRefillMs: number; backoffUntil?: string; safeHelperTtlMs?: number; minValidityMs?: number }
}

async function statusOf(box: Sandbox, profile: string): Promise<ProfileStatusJson> {
  const result = await box.run(['status', '--json'])
  assert.equal(result.code, 0, result.stderr)
  const found = (JSON.parse(result.stdout) as { profiles: ProfileStatusJson[] }).profiles.find((p) => p.profile === profile)
  assert.ok(found !== undefined, `status lists ${profile}`)
  return found
}

/** Straight to the daemon's socket: many requests without starting a CLI process for each. */
function ask(box: Sandbox, body: Record<string, unknown>): Promise<DaemonResponse> {
  return requestDaemon(box.env, 'POST', ROUTES.credential, { callerTtlMs: 300_000, ...body }, 30_000)
}

describe('edges: the upstream budget', () => {
  it('600 s credentials and one get with TTL 539500: no refresh loop, next refresh a quarter lifetime on', async () => {
    const box = sandbox()
    const counter = box.file('count')
    box.writeConfig(`
[profiles.p]
source = "exec"
command = ["${box.writeScript('p.sh', COUNTING_JSON(counter, 600))}"]
`)
    const got = await box.run(['get', 'p'], { env: { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '539500' } })
    assert.equal(got.code, 0, got.stderr)
    assert.match(got.stderr, /CLAUDE_CODE_API_KEY_HELPER_TTL_MS=330000/, 'the warning suggests the safe TTL')
    const status = await statusOf(box, 'p')
    const refreshInMs = Date.parse(status.nextRefreshAt!) - Date.parse(status.lastRefreshAt!)
    assert.ok(refreshInMs >= 600_000 * REFRESH_FLOOR_FRACTION, `next refresh ${refreshInMs} ms after the fetch (the loop: 1000 ms)`)
    assert.equal(status.budget?.safeHelperTtlMs, 330_000)
    assert.ok((status.budget?.minValidityMs ?? 0) >= 599_500)
    // The same TTL asked again: served from the cache, not fetched (10 of 11 were fetches before).
    for (let i = 0; i < 10; i++) {
      const response = await ask(box, { profile: 'p', callerTtlMs: 539_500 })
      assert.equal(response.status, 200, JSON.stringify(response.body))
    }
    assert.equal(runs(counter), 1)
  })

  it('get --refresh ×70: at most the bucket and its refills reach the upstream; status shows the bucket', async () => {
    const box = sandbox()
    const counter = box.file('count')
    box.writeConfig(`
[profiles.p]
source = "exec"
command = ["${box.writeScript('p.sh', COUNTING_JSON(counter, 3600))}"]
`)
    assert.equal((await box.run(['get', 'p'])).code, 0)
    const served: string[] = []
    for (let i = 0; i < 70; i++) {
      const response = await ask(box, { profile: 'p', forceRefresh: true })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      served.push((response.body as { served: string }).served)
    }
    const forced = runs(counter) - 1
    // Every forced refresh the daemon reports is one upstream run, and the first ones are the burst.
    assert.equal(served.filter((how) => how === 'refresh').length, forced, served.join(' '))
    assert.deepEqual(served.slice(0, FORCED_BUCKET_CAPACITY), Array(FORCED_BUCKET_CAPACITY).fill('refresh'), 'the bucket allows a burst')
    // Refills: bounded by the daemon's own clock (its audit times of the 70 requests), not the test's.
    const audited = box.auditLines().filter((line) => line.event === 'issue' && line.profile === 'p').slice(-70).map((line) => Date.parse(String(line.time)))
    const spanMs = audited.at(-1)! - audited[0]!
    assert.ok(forced <= FORCED_BUCKET_CAPACITY + Math.floor(spanMs / FORCED_REFILL_MS) + 1, `${forced} forced fetches over ${spanMs} ms of daemon time: ${served.join(' ')}`)
    const refused = await box.run(['get', 'p', '--refresh'])
    assert.equal(refused.code, 0, refused.stderr)
    assert.match(refused.stderr, /^ccred: warning: .*refresh budget spent.*next forced refresh in \d+s \[WARN_REFRESH_BUDGET\]$/m)
    const status = await statusOf(box, 'p')
    assert.equal(status.budget?.forcedCapacity, FORCED_BUCKET_CAPACITY)
    assert.ok((status.budget?.forcedTokens ?? 99) < FORCED_BUCKET_CAPACITY)
    const table = await box.run(['status', '--wide'])
    assert.match(table.stdout, /BUDGET/)
    assert.match(table.stdout, /\/3 forced/)
  })

  it('a failing source with nothing cached: 130 gets make a handful of upstream calls and say when they retry', async () => {
    const box = sandbox()
    const counter = box.file('count')
    box.writeConfig(`
[profiles.down]
source = "exec"
command = ["${box.writeScript('down.sh', `#!/bin/sh\ndate +%s%N >> ${counter}\necho "upstream is down" >&2\nexit 1\n`)}"]
`)
    const first = await box.run(['get', 'down'])
    assert.notEqual(first.code, 0)
    const messages: string[] = []
    for (let i = 0; i < 130; i++) {
      const response = await ask(box, { profile: 'down' })
      assert.notEqual(response.status, 200)
      messages.push(JSON.stringify(response.body))
    }
    const last = await box.run(['get', 'down'])
    assert.match(last.stderr, /upstream is down.*\[ERR_SOURCE_UNAVAILABLE\]/)
    assert.equal(last.stderr.trim().split('\n').length, 1, 'one line')
    const status = await statusOf(box, 'down')
    // Each upstream call is one failure the daemon counts: exact, whatever the machine's speed.
    const startsNs = readFileSync(counter, 'utf8').split('\n').filter(Boolean).map((line) => BigInt(line))
    assert.equal(status.consecutiveFailures, startsNs.length, 'status counts every upstream call')
    // From the second failure on, retry n+1 starts at least half of 1 s · 2^(n-1) after call n
    // started (the jitter's floor); a loaded machine only widens the gaps. Times from the helper itself.
    for (let n = 2; n < startsNs.length; n++) {
      const gapMs = Number(startsNs[n]! - startsNs[n - 1]!) / 1e6
      assert.ok(gapMs >= 500 * 2 ** (n - 1), `call ${n + 1} came ${gapMs} ms after call ${n}: inside the backoff`)
    }
    assert.ok(startsNs.length < 131 / 10, `${startsNs.length} upstream calls for 131 gets`)
    assert.ok(messages.filter((m) => /retrying in \d+ s/.test(m)).length >= 120, messages.slice(-1)[0])
    assert.equal(status.budget?.forcedCapacity, FORCED_BUCKET_CAPACITY)
  })
})

describe('edges: helper TTL vs lifetime', () => {
  it('doctor computes the safe TTL on every run and fails (13) when Claude Code\'s TTL exceeds it', async () => {
    const box = sandbox()
    box.writeConfig(`
[profiles.jwt10]
source = "exec"
command = ["${box.writeScript('p.sh', COUNTING_JSON(box.file('count'), 600))}"]
`)
    mkdirSync(join(box.home, '.claude'), { recursive: true })
    const settings = join(box.home, '.claude', 'settings.json')
    writeFileSync(settings, JSON.stringify({ env: { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '900000' } }))
    for (const run of [1, 2]) {
      const doctor = await box.run(['doctor', 'jwt10', '--json'])
      assert.equal(doctor.code, 13, `run ${run}: ${doctor.stdout}`)
      const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks
      const lifetime = checks.find((c) => c.check === 'profile jwt10 lifetime')
      assert.equal(lifetime?.verdict, 'fail', `run ${run}`)
      assert.match(lifetime!.detail, /exceeds the largest safe TTL 5m30s.*CLAUDE_CODE_API_KEY_HELPER_TTL_MS=330000/)
    }
    // One millisecond above the safe TTL is already too much (no skew allowance on top of the skew).
    writeFileSync(settings, JSON.stringify({ env: { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '330001' } }))
    const above = await box.run(['doctor', 'jwt10', '--json'])
    assert.equal(above.code, 13, above.stdout)
    const aboveLifetime = (JSON.parse(above.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks.find((c) => c.check === 'profile jwt10 lifetime')
    assert.equal(aboveLifetime?.verdict, 'fail', above.stdout)
    assert.match(aboveLifetime!.detail, /exceeds the largest safe TTL 5m30s/)
    writeFileSync(settings, JSON.stringify({ env: { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '330000' } }))
    const fixed = await box.run(['doctor', 'jwt10', '--json'])
    const lifetime = (JSON.parse(fixed.stdout) as { checks: { check: string; verdict: string }[] }).checks.find((c) => c.check === 'profile jwt10 lifetime')
    assert.equal(lifetime?.verdict, 'ok', fixed.stdout)
  })
})

describe('edges: exec helpers', () => {
  it('a helper that leaves `setsid sleep 1000 &` holding its pipes: get answers, status is not stuck refreshing', async () => {
    const box = sandbox()
    const pidFile = box.file('stray.pid')
    box.writeConfig(`
[profiles.bg]
source = "exec"
shell = true
command = "setsid sleep 1000 & echo $! > ${pidFile}; echo bg-token"
timeout = "2s"
lifetime = "10m"

[profiles.stuck]
source = "exec"
shell = true
command = "setsid sleep 1000 & echo $! >> ${pidFile}; sleep 1000"
timeout = "1s"
`)
    const got = await box.run(['get', 'bg'])
    for (const line of readFileSync(pidFile, 'utf8').split('\n').filter(Boolean)) strays.push(Number(line))
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stdout, 'bg-token\n')
    assert.equal((await statusOf(box, 'bg')).refreshing, false)
    const stuck = await box.run(['get', 'stuck'])
    for (const line of readFileSync(pidFile, 'utf8').split('\n').filter(Boolean)) strays.push(Number(line))
    assert.notEqual(stuck.code, 0)
    assert.match(stuck.stderr, /timed out after 1s/)
    assert.equal((await statusOf(box, 'stuck')).refreshing, false)
  })

  it('helper stderr is redacted against the token and every string it printed, before truncation', async () => {
    const box = sandbox()
    const secret = `s3cr3t-${randomBytes(21).toString('hex')}`.slice(0, 48)
    const other = `other-${randomBytes(12).toString('hex')}`
    const padding = 'x'.repeat(254)
    box.writeConfig(`
[profiles.leaky]
source = "exec"
shell = true
command = "echo '{\\"token\\": \\"${secret}\\", \\"refresh\\": \\"${other}\\"}'; echo \\"upload failed for token ${secret}\\" >&2; echo \\"${padding}${secret}\\" >&2; echo \\"refresh ${other} ${secret.slice(3)}\\" >&2; exit 1"
`)
    const outputs: [string, string][] = []
    const get = await box.run(['get', 'leaky'])
    assert.notEqual(get.code, 0)
    assert.match(get.stderr, /exited with status 1: refresh \[redacted\]/)
    outputs.push(['get', get.stderr + get.stdout])
    for (const args of [['status'], ['status', '--json'], ['doctor', 'leaky']]) {
      const result = await box.run(args)
      outputs.push([args.join(' '), result.stdout + result.stderr])
    }
    outputs.push(['daemon log', box.daemonLog()])
    for (const [what, text] of outputs) {
      for (const value of [secret, other]) {
        for (let i = 0; i + 8 <= value.length; i++) {
          assert.ok(!text.includes(value.slice(i, i + 8)), `${what} holds characters ${i}..${i + 8} of a secret: ${text.slice(0, 500)}`)
        }
      }
    }
  })

  it('helpers get a minimal environment plus the profile\'s own env table, not other profiles\' secrets', async () => {
    const other = `other-profile-secret-${randomBytes(8).toString('hex')}`
    const mine = `mine-${randomBytes(8).toString('hex')}`
    const box = sandbox({ OTHER_PROFILE_KEY: other, MY_SOURCE_VAR: mine })
    const dump = box.file('env.txt')
    box.writeConfig(`
[profiles.other]
source = "static"
value = "env:OTHER_PROFILE_KEY"

[profiles.envy]
source = "exec"
shell = true
command = "env > ${dump}; echo envy-token"
env = { PLAIN = "visible", FROM_REF = "env:MY_SOURCE_VAR" }
`)
    assert.equal((await box.run(['get', 'other'])).code, 0)
    const got = await box.run(['get', 'envy'])
    assert.equal(got.code, 0, got.stderr)
    const names = new Map(readFileSync(dump, 'utf8').split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
    assert.equal(names.get('PLAIN'), 'visible')
    assert.equal(names.get('FROM_REF'), mine)
    assert.equal(names.get('HOME'), box.home)
    assert.ok(names.has('PATH'))
    for (const name of ['OTHER_PROFILE_KEY', 'MY_SOURCE_VAR', 'CCRED_RUNTIME_DIR']) assert.ok(!names.has(name), `${name} is not passed`)
    assert.ok(!readFileSync(dump, 'utf8').includes(other))
  })

  it('helper stderr is redacted against the secrets the profile passes it in env, too', async () => {
    const passed = `passed-${randomBytes(12).toString('hex')}`
    const box = sandbox({ LOGIN_SECRET: passed })
    box.writeConfig(`
[profiles.echoes]
source = "exec"
shell = true
command = "echo \\"login with $LOGIN failed\\" >&2; exit 1"
env = { LOGIN = "env:LOGIN_SECRET" }
`)
    const get = await box.run(['get', 'echoes'])
    assert.notEqual(get.code, 0)
    assert.match(get.stderr, /exited with status 1: login with \[redacted\] failed/)
    const status = await box.run(['status', '--json'])
    for (const [what, text] of [['get', get.stderr + get.stdout], ['status', status.stdout + status.stderr], ['daemon log', box.daemonLog()]]) {
      for (let i = 0; i + 8 <= passed.length; i++) assert.ok(!text!.includes(passed.slice(i, i + 8)), `${what} holds characters ${i}..${i + 8} of the secret: ${text!.slice(0, 500)}`)
    }
  })
})

describe('edges: core dumps off outside the daemon', () => {
  it('ccred exec and the in-process path run with core limit 0 even when the shell allows core dumps', async (t) => {
    if (process.platform !== 'linux') {
      t.skip('reads /proc/<pid>/limits (Linux)')
      return
    }
    const raised = spawnSync('prlimit', ['--pid', String(process.pid), '--core=unlimited:unlimited'], { encoding: 'utf8' })
    const coreLine = (text: string) => /^Max core file size\s+(\S+)\s+(\S+)/m.exec(text)?.[1]
    const ours = coreLine(readFileSync(`/proc/${process.pid}/limits`, 'utf8'))
    if (raised.status !== 0 || ours === '0') t.diagnostic(`could not raise this process's core limit (${raised.stderr?.trim() ?? ''}); checking against an already-zero one`)
    const box = sandbox()
    const limitsFile = box.file('parent-limits')
    box.writeConfig(`
[profiles.demo]
source = "static"
value = "env:DEMO_KEY"

[profiles.peek]
source = "exec"
shell = true
command = "cat /proc/$PPID/limits > ${limitsFile}; echo peek-token"
`)
    const execResult = await box.run(['exec', 'demo', '--', 'sh', '-c', 'cat /proc/$PPID/limits'], { env: { DEMO_KEY: 'demo-value', CCRED_NO_DAEMON: '1' } })
    assert.equal(execResult.code, 0, execResult.stderr)
    assert.equal(coreLine(execResult.stdout), '0', 'ccred exec: Max core file size 0')
    const inProcess = await box.run(['get', 'peek'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.equal(inProcess.code, 0, inProcess.stderr)
    assert.equal(coreLine(readFileSync(limitsFile, 'utf8')), '0', 'in-process get: Max core file size 0')
  })
})

describe('edges: a broken config with a running daemon', () => {
  it('get serves the last good config with one warning line; status shows the error; doctor fails', async () => {
    const box = sandbox()
    box.writeConfig(`
[profiles.p]
source = "exec"
command = ["${box.writeScript('p.sh', COUNTING_JSON(box.file('count'), 3600))}"]
`)
    const good = await box.run(['get', 'p'])
    assert.equal(good.code, 0, good.stderr)
    assert.equal(good.stderr, '')
    box.writeConfig('[profiles.p\nsource = "exec"\n')
    const served = await box.run(['get', 'p'], { distinctCaller: true }) // the same caller again soon would look like a 401 re-run
    assert.equal(served.code, 0, served.stderr)
    assert.equal(served.stdout, good.stdout, 'the last good config keeps serving')
    const lines = served.stderr.split('\n').filter(Boolean)
    assert.equal(lines.length, 1, served.stderr)
    assert.match(lines[0]!, /^ccred: warning: .*config\.toml is broken, serving its last good version: .*\[ERR_CONFIG\] — /)
    const status = await box.run(['status'])
    assert.match(status.stdout, /error: .*\[ERR_CONFIG\]/)
    const json = JSON.parse((await box.run(['status', '--json'])).stdout) as { config: { error?: { code: string } } }
    assert.equal(json.config.error?.code, 'ERR_CONFIG')
    const doctor = await box.run(['doctor'])
    assert.equal(doctor.code, 13, doctor.stdout)
    assert.match(doctor.stdout, /^config +FAIL/m)
  })
})
