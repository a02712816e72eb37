import assert from 'node:assert/strict'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CredentialService } from '../../src/service/service.js'
import { FakeClock } from '../../src/clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { isAlive, Sandbox, waitFor, oneLineStdout, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { startSecretService } from '../helpers/secret-service.js'
import { withText } from '../helpers/issued.js'

const sandboxes = sandboxesCleanedUpAfterAll()
function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const box = new Sandbox(extraEnv)
  sandboxes.push(box)
  return box
}

describe('daemon faults', () => {
  it('daemon killed with SIGKILL mid-request: the client starts a new one, asks again, and get succeeds', async () => {
    const box = sandbox()
    const started = box.file('started')
    const script = box.writeScript('slow.sh', `#!/bin/sh\necho run >> ${started}\nsleep 1.5\necho tok-slow-$$\n`)
    box.writeConfig(`[profiles.slow]\nsource = "exec"\ncommand = ["${script}"]\n`)
    assert.equal((await box.run(['daemon', 'start'])).code, 0)
    const firstPid = box.daemonPid()
    assert.ok(firstPid !== undefined)
    const get = box.start(['get', 'slow'], { timeoutMs: 30_000 })
    // The exec is in flight inside the daemon: kill the daemon under the client's feet.
    await waitFor(() => existsSync(started), 'the slow command to start', 10_000)
    process.kill(firstPid, 'SIGKILL')
    const result = await get.done
    assert.equal(result.code, 0, result.stderr)
    assert.match(oneLineStdout(result.stdout), /^tok-slow-\d+$/)
    const secondPid = box.daemonPid()
    assert.ok(secondPid !== undefined && secondPid !== firstPid && isAlive(secondPid), 'a new daemon serves now')
    assert.ok(!isAlive(firstPid))
    assert.equal(readFileSync(started, 'utf8').split('\n').filter(Boolean).length, 2, 'the command ran again in the new daemon')
  })

  it('socket file deleted while the daemon runs: the daemon listens again and the next get succeeds', async () => {
    const box = sandbox()
    const first = await box.run(['get', 'demo'])
    assert.equal(first.code, 0, first.stderr)
    const pid = box.daemonPid()!
    const socket = join(box.runtimeDir, 'ccred.sock')
    rmSync(socket)
    const again = await box.run(['get', 'demo'], { distinctCaller: true, timeoutMs: 30_000 })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(oneLineStdout(again.stdout), oneLineStdout(first.stdout), 'served from the same daemon cache, not in-process')
    assert.equal(again.stderr, '', 'no fallback warning')
    // No wall-clock bound: had the autostart wait run out, the same-cache value, the empty stderr and the same pid would all fail.
    assert.equal(box.daemonPid(), pid, 'the same daemon, still the only one')
    assert.ok(existsSync(socket), 'the socket is back')
    assert.match(box.daemonLog(), /socket .* was removed; listening again/)
  })

  it('config replaced by invalid TOML: the old config keeps serving, status shows the error; a fixed file applies', async () => {
    // The daemon inherits the env of the get that started it.
    const box = sandbox({ CC_FAULT_ONE: 'sk-static-one', CC_FAULT_TWO: 'sk-static-two-fixed' })
    box.writeConfig(`[profiles.s]\nsource = "static"\nvalue = "env:CC_FAULT_ONE"\n`)
    assert.equal(oneLineStdout((await box.run(['get', 's'])).stdout), 'sk-static-one')
    box.writeConfig(`[profiles.s\nsource = "static"\nvalue = "env:CC_FAULT_ONE"\n`)
    const broken = await box.run(['get', 's'], { distinctCaller: true })
    assert.equal(broken.code, 0, broken.stderr)
    assert.equal(oneLineStdout(broken.stdout), 'sk-static-one', 'the last good config serves')
    const status = JSON.parse((await box.run(['status', '--json'])).stdout) as { config: { error?: { code: string; message: string } }; profiles: { profile: string }[] }
    assert.equal(status.config.error?.code, 'ERR_CONFIG')
    assert.match(status.config.error!.message, /config\.toml/)
    assert.deepEqual(status.profiles.map((p) => p.profile), ['s'])
    const text = await box.run(['status'])
    assert.match(text.stdout, /error: .*\[ERR_CONFIG\]/)
    box.writeConfig(`[profiles.s]\nsource = "static"\nvalue = "env:CC_FAULT_TWO"\n`)
    const fixed = await box.run(['get', 's'], { distinctCaller: true })
    assert.equal(oneLineStdout(fixed.stdout), 'sk-static-two-fixed')
    const after = JSON.parse((await box.run(['status', '--json'])).stdout) as { config: { error?: unknown } }
    assert.equal(after.config.error, undefined)
  })

  it('a config invalid from the start still fails get with ERR_CONFIG (nothing good to fall back on)', async () => {
    const box = sandbox()
    box.writeConfig(`[profiles.s\n`)
    const result = await box.run(['get', 's'])
    assert.equal(result.code, 3)
    assert.match(result.stderr, /ERR_CONFIG/)
    assert.equal(result.stdout, '')
  })

  it('clock jumps forward past every expiry: never hands out an expired value, re-fetches', async () => {
    const box = sandbox()
    const script = box.writeScript('mint.sh', `#!/bin/sh\necho "tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')"\n`)
    box.writeConfig([
      `[profiles.a]\nsource = "exec"\ncommand = ["${script}"]\nlifetime = "10m"\n`,
      `[profiles.b]\nsource = "exec"\ncommand = ["${script}"]\nlifetime = "1h"\n`,
    ].join('\n'))
    const clock = new FakeClock()
    const service = new CredentialService({ env: box.env, clock, configPath: box.configPath, explicitConfig: true, store: new MemoryStore() })
    try {
      const firstA = withText(await service.get({ profile: 'a', callerTtlMs: 60_000 }))
      const firstB = withText(await service.get({ profile: 'b', callerTtlMs: 60_000 }))
      // Every refresh-ahead timer is due at once: a laptop waking up a day later.
      clock.advance(24 * 3_600_000)
      const nowMs = clock.now()
      const [a, b] = (await Promise.all([service.get({ profile: 'a', callerTtlMs: 60_000 }), service.get({ profile: 'b', callerTtlMs: 60_000 })])).map(withText)
      for (const [issued, before] of [[a, firstA], [b, firstB]] as const) {
        assert.notEqual(issued.value, before.value)
        assert.ok(Date.parse(issued.expiresAt!) > nowMs + 60_000, `${issued.profile}: valid past the caller TTL`)
      }
    } finally {
      await service.close()
    }
  })

  it('Secret Service gone mid-run: a cached keychain value keeps serving, a cold one is ERR_KEYCHAIN_UNAVAILABLE with a hint, nothing hangs', async (t) => {
    const ss = await startSecretService()
    if (!ss.ok) {
      console.log(`skipping: Secret Service unavailable: ${ss.reason}`)
      t.skip(ss.reason)
      return
    }
    t.after(() => ss.stop())
    // TTL 0: no 401 heuristic, so a repeated get is a plain hit.
    const box = sandbox({ DBUS_SESSION_BUS_ADDRESS: ss.env['DBUS_SESSION_BUS_ADDRESS']!, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' })
    box.writeConfig(`[profiles.warm]\nsource = "static"\nvalue = "keychain:warm-key"\n\n[profiles.cold]\nsource = "static"\nvalue = "keychain:cold-key"\n`)
    const warm = `sk-warm-${process.pid}-canary`
    assert.equal((await box.run(['set', 'warm'], { input: warm })).code, 0)
    assert.equal((await box.run(['set', 'cold'], { input: 'sk-cold-canary' })).code, 0)
    assert.equal((await box.run(['get', 'warm'])).stdout, `${warm}\n`)
    await ss.stop()
    // The run's own timeout turns a hang into a failure; no tighter wall-clock bound, which load would break.
    const hit = await box.run(['get', 'warm', '--json'], { timeoutMs: 30_000 })
    assert.equal(hit.code, 0, hit.stderr)
    const issued = JSON.parse(hit.stdout) as { value: string; served: string }
    assert.equal(issued.value, warm)
    assert.equal(issued.served, 'hit')
    const cold = await box.run(['get', 'cold'], { timeoutMs: 30_000 })
    assert.equal(cold.code, 10, cold.stderr)
    assert.equal(cold.stdout, '')
    assert.match(cold.stderr, /the OS keychain is unavailable: .* \[ERR_KEYCHAIN_UNAVAILABLE\] — .*store = "file"/)
    assert.ok(!cold.stderr.includes('sk-cold-canary'))
  })
})
