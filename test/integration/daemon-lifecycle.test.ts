// The daemon's life as the CLI sees it, where it goes wrong: autostart that fails (the daemon exits
// during start-up, never becomes ready, a stale spawn lock), the idle exit, a daemon that reads
// another config file than the command, and `daemon stop` when the daemon does not go.
import assert from 'node:assert/strict'
import { mkdirSync, existsSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { RUNTIME_FILE_NAMES, SOCKET_NAME } from '../../src/config/paths.js'
import { EXIT_CODES } from '../../src/errors.js'
import { isAlive, Sandbox, waitFor, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()
const closers: (() => Promise<void>)[] = []
after(async () => {
  for (const close of closers) await close()
})

function sandbox(config = '[profiles.demo]\nsource = "demo"\n'): Sandbox {
  const box = new Sandbox()
  sandboxes.push(box)
  box.writeConfig(config)
  mkdirSync(box.runtimeDir, { recursive: true, mode: 0o700 })
  return box
}

const IN_PROCESS = /^ccred: warning: the daemon is unavailable \((.*)\); fetching in this process \[WARN_DAEMON_FALLBACK\] — (.*)$/

describe('autostart failures: get still answers, in-process, and says why', () => {
  it('the daemon exits during start-up (it cannot take its lock): the exit status is named at once', async () => {
    const box = sandbox()
    // A directory where the lock file goes: the daemon's lock cannot be taken and it exits with ERR_DAEMON's code.
    mkdirSync(join(box.runtimeDir, RUNTIME_FILE_NAMES.daemonLock))
    const got = await box.run(['get', 'demo'], { timeoutMs: 60_000 })
    assert.equal(got.code, 0, got.stderr)
    assert.match(got.stdout, /^ccred-demo-[0-9a-f]+\n$/, 'the credential, fetched in this process')
    const warning = IN_PROCESS.exec(got.stderr.trim())
    assert.ok(warning !== null, got.stderr)
    // The daemon's own exit code for its ERR_DAEMON ("cannot take the daemon lock").
    assert.equal(warning[1], `the daemon exited during start-up (status ${EXIT_CODES.ERR_DAEMON})`)
    assert.match(warning[2]!, /^see .*daemon\.log, or run it in the foreground: ccred daemon run$/)
    assert.match(box.daemonLog(), /cannot take the daemon lock/)
    assert.equal(box.daemonPid(), undefined, 'no daemon is left running')
    assert.ok(!existsSync(join(box.runtimeDir, RUNTIME_FILE_NAMES.spawnLock)), 'the spawn lock is released')
  })

  it('the daemon never becomes ready (another client holds a fresh spawn lock): the wait ends, then in-process', async () => {
    const box = sandbox()
    writeFileSync(join(box.runtimeDir, RUNTIME_FILE_NAMES.spawnLock), '')
    const got = await box.run(['get', 'demo'], { timeoutMs: 60_000 })
    assert.equal(got.code, 0, got.stderr)
    assert.match(got.stdout, /^ccred-demo-[0-9a-f]+\n$/)
    const warning = IN_PROCESS.exec(got.stderr.trim())
    assert.ok(warning !== null, got.stderr)
    assert.match(warning[1]!, /^the daemon did not become ready within \d+s$/)
    assert.match(warning[2]!, /daemon\.log/)
    assert.equal(box.daemonPid(), undefined, 'this client did not spawn one: the lock said another was')
    assert.ok(existsSync(join(box.runtimeDir, RUNTIME_FILE_NAMES.spawnLock)), 'another client\'s lock is not this client\'s to remove')
  })

  it('a stale spawn lock (its client died mid-start) is taken over: the daemon starts, no warning', async () => {
    const box = sandbox()
    const lock = join(box.runtimeDir, RUNTIME_FILE_NAMES.spawnLock)
    writeFileSync(lock, '')
    const longAgo = new Date(Date.now() - 60 * 60_000)
    utimesSync(lock, longAgo, longAgo)
    const got = await box.run(['get', 'demo'], { timeoutMs: 60_000 })
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stderr, '')
    const pid = box.daemonPid()
    assert.ok(pid !== undefined && isAlive(pid), 'a daemon serves')
    assert.ok(!existsSync(lock), 'the stale lock was replaced, then released')
  })
})

describe('the daemon\'s idle exit', () => {
  it('exits by itself after broker.idle_exit without a request, and removes its socket and pid file', async () => {
    // 10 s is the shortest idle_exit the config accepts; the wait is bounded only to turn a hang into a failure.
    const box = sandbox('[broker]\nidle_exit = "10s"\n\n[profiles.demo]\nsource = "demo"\n')
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const pid = box.daemonPid()!
    assert.ok(isAlive(pid))
    await waitFor(() => !isAlive(pid), 'the idle daemon to exit', 60_000)
    assert.match(box.daemonLog(), /ccred daemon: idle for .*, exiting/)
    assert.ok(!existsSync(join(box.runtimeDir, SOCKET_NAME)), 'socket removed')
    assert.equal(box.daemonPid(), undefined, 'pid file removed')
    // The next get starts a new one.
    const again = await box.run(['get', 'demo'])
    assert.equal(again.code, 0, again.stderr)
    assert.notEqual(box.daemonPid(), pid)
  })
})

describe('a daemon that reads another config file than the command', () => {
  it('is refused with ERR_DAEMON naming both files, not served from the wrong config', async () => {
    const box = sandbox()
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const other = box.file('other-config.toml')
    writeFileSync(other, '[profiles.demo]\nsource = "demo"\n', { mode: 0o600 })
    const mismatched = await box.run(['get', 'demo'], { env: { CCRED_CONFIG: other }, distinctCaller: true })
    assert.equal(mismatched.stdout, '')
    assert.match(mismatched.stderr, new RegExp(`^ccred: the running daemon reads ${escape(box.configPath)}, but this command uses ${escape(other)} \\[ERR_DAEMON\\]`))
    assert.equal(mismatched.stderr.trim().split('\n').length, 1, mismatched.stderr)
    assert.equal(mismatched.code, EXIT_CODES.ERR_DAEMON)
  })
})

describe('`ccred daemon stop` when the daemon does not go', () => {
  it('gives up after its wait with ERR_DAEMON and the pid to kill', async () => {
    const box = sandbox()
    // A daemon that acknowledges the shutdown and stays: a fake that always answers health.
    const info = { pid: process.pid, version: 'test', startedAt: new Date().toISOString(), socket: join(box.runtimeDir, SOCKET_NAME), configPath: box.configPath }
    const server = createServer((socket: Socket) => {
      socket.on('error', () => undefined)
      socket.once('data', (chunk: Buffer) => {
        const body = chunk.toString('latin1').startsWith('GET /v1/health') ? JSON.stringify(info) : '{}'
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      })
    })
    await new Promise<void>((resolve) => server.listen(info.socket, () => resolve()))
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const stopped = await box.run(['daemon', 'stop'], { timeoutMs: 60_000 })
    assert.equal(stopped.code, EXIT_CODES.ERR_DAEMON, stopped.stderr)
    assert.match(stopped.stderr, new RegExp(`^ccred: the daemon \\(pid ${process.pid}\\) did not stop within 5s \\[ERR_DAEMON\\] — stop it with: kill ${process.pid}\\n$`))
    rmSync(info.socket, { force: true })
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
