// Fault injection, bounded and loopback only: an upstream that is down, slow past the timeout,
// answering garbage or the wrong JSON shape, sending 50 MB, cutting the connection mid-response or
// flapping between 503 and success. For each source path: a still-valid cached value keeps being
// served (status shows the error), after expiry a coded error names the cause, the upstream coming
// back is picked up without a restart, and a huge body is refused without reading it all.
// Time moves on a FakeClock (the real CredentialService and broker in this process, the real client
// libraries over real loopback HTTP), so nothing sleeps to wait for an expiry; the exec path runs
// through the real daemon and CLI.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs'
import { CredentialService } from '../../src/broker/service.js'
import { FakeClock } from '../../src/clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { CcredError } from '../../src/errors.js'
import { HUGE_BODY_BYTES, startFaultyUpstream, type FaultMode, type FaultyUpstream } from '../helpers/faulty-upstream.js'
import { Sandbox } from '../helpers/sandbox.js'
import { HOUR, MINUTE, rejects, until, world } from '../helpers/vault-world.js'

const MiB = 1024 * 1024
const upstreams: FaultyUpstream[] = []
const sandboxes: Sandbox[] = []
const services: CredentialService[] = []
after(async () => {
  await Promise.all(services.map((s) => s.close()))
  await Promise.all(upstreams.map((u) => u.close()))
  await Promise.all(sandboxes.map((box) => box.cleanup()))
})

/** What a fault must look like once nothing valid is cached: the message names the cause. */
const CAUSES: Record<Exclude<FaultMode, 'normal' | 'flapping'>, RegExp> = {
  down: /ECONNREFUSED|cannot reach|refused/i,
  slow: /did not answer|timed? ?out|timeout/i,
  garbage: /not JSON|JSON|unexpected|invalid|malformed/i,
  'wrong-shape': /field|missing|no |not a|expected|shape|unexpected|invalid/i,
  huge: /maxContentLength|too large|exceeds|larger than|size/i,
  cut: /socket hang up|ECONNRESET|aborted|closed|terminated|incomplete|cannot reach|premature/i,
}

interface Subject {
  clock: FakeClock
  /** Switches the upstream's behaviour. */
  set(mode: FaultMode): Promise<void>
  get(forceRefresh?: boolean): Promise<{ value: string; served: string; expiresAt?: string }>
  status(): Promise<{ lastError?: { code: string; message: string } }>
  /** From a fresh value to its refresh-ahead time, while it is still valid for the caller. */
  toRefreshAheadMs: number
  /** From there to past the value's expiry. */
  toExpiryMs: number
}

function rssBytes(): number {
  return process.memoryUsage().rss
}

/**
 * One fault, the whole story: cached value served through it, a coded error naming the cause after
 * expiry, recovery without restart. Returns the RSS growth seen while the fault was on.
 */
async function exercise(subject: Subject, mode: Exclude<FaultMode, 'normal' | 'flapping'>, cause = CAUSES[mode]): Promise<{ rssGrowthBytes: number }> {
  const { clock } = subject
  await subject.set('normal')
  const fresh = await subject.get(true)
  assert.equal((await subject.status()).lastError, undefined)

  const rssBefore = rssBytes()
  await subject.set(mode)
  // The refresh-ahead timer fires; its fetch fails in the background.
  clock.advance(subject.toRefreshAheadMs)
  await until(async () => (await subject.status()).lastError !== undefined, `the background refresh to fail (${mode})`, 10_000)
  const cached = await subject.get()
  assert.equal(cached.value, fresh.value, `${mode}: the still-valid value keeps being served`)
  assert.equal(cached.served, 'hit')
  const shown = (await subject.status()).lastError!
  assert.match(shown.code, /^ERR_/, `${mode}: status shows a coded error`)

  // Past expiry: nothing valid left, so the caller gets the error itself.
  clock.advance(subject.toExpiryMs)
  const error = await rejects(subject.get())
  assert.ok(error instanceof CcredError)
  assert.match(error.code, /^ERR_SOURCE_(UNAVAILABLE|OUTPUT)$/, `${mode}: ${error.code} ${error.message}`)
  assert.match(error.message, cause, `${mode}: the message names the cause: ${error.message}`)
  assert.ok(error.hint !== undefined && error.hint !== '', `${mode}: with a hint`)
  console.log(`${mode}: ${error.code}: ${error.message}`)
  const rssGrowthBytes = Math.max(0, rssBytes() - rssBefore)

  // The upstream comes back: the next get fetches, no restart.
  await subject.set('normal')
  const recovered = await subject.get()
  assert.notEqual(recovered.value, fresh.value)
  assert.ok(Date.parse(recovered.expiresAt!) > clock.now(), 'never an expired value')
  assert.equal((await subject.status()).lastError, undefined, `${mode}: the error clears on recovery`)
  return { rssGrowthBytes }
}

/** Flapping 503/success: the cached value serves throughout, and gets recover by themselves. */
async function exerciseFlapping(subject: Subject): Promise<void> {
  const { clock } = subject
  await subject.set('normal')
  const fresh = await subject.get(true)
  await subject.set('flapping')
  clock.advance(subject.toRefreshAheadMs)
  // Flapping starts with a 503: the refresh-ahead fails once.
  await until(async () => (await subject.status()).lastError !== undefined, 'the refresh to meet the flapping upstream', 10_000)
  assert.equal((await subject.get()).value, fresh.value, 'the cached value serves while the upstream flaps')
  clock.advance(subject.toExpiryMs)
  let got: { value: string; expiresAt?: string } | undefined
  const errors: string[] = []
  for (let attempt = 0; attempt < 6 && got === undefined; attempt++) {
    try {
      got = await subject.get()
    } catch (error) {
      assert.ok(error instanceof CcredError)
      errors.push(`${error.code}: ${error.message}`)
    }
  }
  assert.ok(got !== undefined, `a get succeeds while flapping: ${errors.join(' | ')}`)
  assert.notEqual(got.value, fresh.value)
  assert.ok(Date.parse(got.expiresAt!) > clock.now())
}

const RSS_BOUND_BYTES = 30 * MiB

describe('faults: Vault (node-vault) behind a faulty upstream', () => {
  async function vaultSubject(): Promise<Subject & { upstream: FaultyUpstream }> {
    const w = await world((server) => {
      server.databaseRole('gateway', { ttlMs: HOUR, maxTtlMs: 24 * HOUR, renewable: false })
      return '[vault]\ntimeout = "1s"\nauth = { method = "token", token = "env:T" }\n\n[profiles.db]\nsource = "vault"\n[profiles.db.vault]\npath = "database/creds/gateway"\nfield = "password"\n'
    })
    w.env.T = w.server.createToken({ policies: ['root'] })
    const upstream = await startFaultyUpstream({ target: w.server.url, slowMs: 10_000 })
    upstreams.push(upstream)
    w.env.VAULT_ADDR = upstream.url
    return {
      clock: w.clock,
      upstream,
      set: (mode) => upstream.set(mode),
      get: (forceRefresh = false) => w.get('db', { forceRefresh }),
      status: () => w.status('db'),
      // Lease 1 h, caller TTL 5 min + skew 1 min, lead 1 min: refresh-ahead at 53 min.
      toRefreshAheadMs: 53 * MINUTE,
      toExpiryMs: 10 * MINUTE,
    }
  }

  for (const mode of ['down', 'slow', 'garbage', 'wrong-shape', 'cut'] as const) {
    it(`${mode}: cached value served, coded error after expiry, recovery without restart`, async () => {
      await exercise(await vaultSubject(), mode)
    })
  }

  it('huge (50 MB): refused without reading it all; memory stays bounded', async () => {
    const subject = await vaultSubject()
    const { rssGrowthBytes } = await exercise(subject, 'huge')
    console.log(`vault huge body: ${(subject.upstream.hugeBytesSent / MiB).toFixed(1)} MiB sent of ${HUGE_BODY_BYTES / MiB} MiB; RSS growth ${(rssGrowthBytes / MiB).toFixed(1)} MiB`)
    assert.ok(subject.upstream.hugeBytesSent < HUGE_BODY_BYTES / 2, `ccred stopped reading early (${subject.upstream.hugeBytesSent} bytes sent)`)
    assert.ok(rssGrowthBytes < RSS_BOUND_BYTES, `RSS grew ${rssGrowthBytes} bytes`)
  })

  it('flapping 503/success: the cached value serves throughout, gets recover by themselves', async () => {
    await exerciseFlapping(await vaultSubject())
  })
})

/**
 * An exec helper whose behaviour a file switches: "normal" prints a fresh token with a 1 h life;
 * down → exits 1 with a message; slow → hangs; garbage → "{" and not JSON; wrong-shape → JSON
 * without a token; huge → 50 MB; cut → half a JSON object, then killed; flapping → alternately
 * exits 1 and succeeds.
 */
function execHelper(box: Sandbox): { script: string; modeFile: string; set(mode: FaultMode): Promise<void> } {
  const modeFile = box.file('mode')
  const flapFile = box.file('flap')
  writeFileSync(modeFile, 'normal')
  const script = box.writeScript('helper.sh', `#!/bin/sh
mode=$(cat ${modeFile})
token="tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')"
case "$mode" in
  normal) printf '{"token": "%s", "expires_in": 3600}\\n' "$token" ;;
  down) echo "helper: connection refused by the key service" >&2; exit 1 ;;
  slow) sleep 30 ;;
  garbage) echo '{<html>502 Bad Gateway</html>' ;;
  wrong-shape) echo '{"unexpected": true, "items": [1, 2, 3]}' ;;
  huge) head -c ${HUGE_BODY_BYTES} /dev/zero | tr '\\0' a ;;
  cut) printf '{"token": "%s", "expi' "$token"; kill -9 $$ ;;
  flapping)
    if [ -e ${flapFile} ]; then rm ${flapFile}; printf '{"token": "%s", "expires_in": 3600}\\n' "$token"
    else touch ${flapFile}; echo "helper: 503 from the key service" >&2; exit 1; fi ;;
esac
`)
  return {
    script,
    modeFile,
    set: async (mode) => {
      writeFileSync(modeFile, mode)
      rmSync(flapFile, { force: true })
    },
  }
}

const EXEC_CAUSES: Record<Exclude<FaultMode, 'normal' | 'flapping'>, RegExp> = {
  down: /exited with status 1: helper: connection refused by the key service/,
  slow: /timed out after 1s/,
  garbage: /starts with "\{" but is not valid JSON/,
  'wrong-shape': /JSON without a string "token" field/,
  huge: /printed more than 64 KiB/,
  cut: /was killed by SIGKILL/,
}

describe('faults: exec helper (in process, FakeClock)', () => {
  async function execSubject(): Promise<Subject> {
    const box = new Sandbox()
    sandboxes.push(box)
    const helper = execHelper(box)
    box.writeConfig(`[profiles.x]\nsource = "exec"\ncommand = ["${helper.script}"]\ntimeout = "1s"\n`)
    const clock = new FakeClock()
    const service = new CredentialService({ env: box.env, clock, configPath: box.configPath, explicitConfig: true, store: new MemoryStore() })
    services.push(service)
    return {
      clock,
      set: helper.set,
      get: (forceRefresh = false) => service.get({ profile: 'x', callerTtlMs: 5 * MINUTE, forceRefresh }),
      status: async () => (await service.status()).profiles.find((p) => p.profile === 'x')!,
      toRefreshAheadMs: 53 * MINUTE,
      toExpiryMs: 10 * MINUTE,
    }
  }

  for (const mode of ['down', 'slow', 'garbage', 'wrong-shape', 'huge', 'cut'] as const) {
    it(`${mode}: cached value served, coded error after expiry, recovery without restart`, async () => {
      const subject = await execSubject()
      await exercise(subject, mode, EXEC_CAUSES[mode])
    })
  }

  it('flapping (exit 1 / success): the cached value serves throughout, gets recover by themselves', async () => {
    await exerciseFlapping(await execSubject())
  })
})

/** The daemon's resident set size, from /proc (Linux). */
function daemonRssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  assert.ok(match !== null, 'VmRSS in /proc/<pid>/status')
  return Number(match[1]) * 1024
}

describe('faults: exec helper through the real daemon and CLI', () => {
  it('every fault: the cached value keeps serving, --refresh reports the coded cause, status shows it, recovery without restart; 50 MB stays bounded', async (t) => {
    if (!existsSync('/proc/self/status')) {
      t.skip('no /proc: the RSS check needs Linux')
      return
    }
    const box = new Sandbox({ CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' })
    sandboxes.push(box)
    const helper = execHelper(box)
    box.writeConfig(`[profiles.x]\nsource = "exec"\ncommand = ["${helper.script}"]\ntimeout = "1s"\n`)
    const first = await box.run(['get', 'x'])
    assert.equal(first.code, 0, first.stderr)
    const value = first.stdout.trim()
    const pid = box.daemonPid()!
    for (const mode of ['down', 'slow', 'garbage', 'wrong-shape', 'huge', 'cut'] as const) {
      await helper.set(mode)
      const rssBefore = daemonRssBytes(pid)
      const refreshed = await box.run(['get', 'x', '--refresh'], { timeoutMs: 15_000 })
      const rssGrowth = daemonRssBytes(pid) - rssBefore
      assert.equal(refreshed.stdout, '', `${mode}: nothing on stdout`)
      assert.equal(refreshed.code, mode === 'garbage' || mode === 'wrong-shape' || mode === 'huge' ? 8 : 6, `${mode}: ${refreshed.stderr}`)
      assert.match(refreshed.stderr, EXEC_CAUSES[mode])
      assert.match(refreshed.stderr, /\[ERR_SOURCE_(UNAVAILABLE|OUTPUT)\] — /)
      if (mode === 'huge') {
        console.log(`exec huge output through the daemon: daemon RSS growth ${(rssGrowth / MiB).toFixed(1)} MiB`)
        assert.ok(rssGrowth < RSS_BOUND_BYTES, `daemon RSS grew ${rssGrowth} bytes`)
      }
      const cached = await box.run(['get', 'x'], { distinctCaller: true })
      assert.equal(cached.code, 0, cached.stderr)
      assert.equal(cached.stdout.trim(), value, `${mode}: the still-valid value keeps serving`)
      const status = JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { profile: string; lastError?: { code: string; message: string } }[] }
      const shown = status.profiles.find((p) => p.profile === 'x')!.lastError
      assert.ok(shown !== undefined, `${mode}: status shows the error`)
      assert.match(shown.message, EXEC_CAUSES[mode])
    }
    await helper.set('normal')
    const recovered = await box.run(['get', 'x', '--refresh'])
    assert.equal(recovered.code, 0, recovered.stderr)
    assert.notEqual(recovered.stdout.trim(), value)
    assert.equal(box.daemonPid(), pid, 'the same daemon throughout')
    const status = JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { profile: string; lastError?: unknown }[] }
    assert.equal(status.profiles.find((p) => p.profile === 'x')!.lastError, undefined)
  })
})
