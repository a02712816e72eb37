import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createServer } from 'node:net'
import { requestDaemon, unwrap } from '../../src/client/transport.js'
import { loginRuntimeDir } from '../../src/config/paths.js'
import { startDaemon } from '../../src/daemon/daemon.js'
import { CcredError } from '../../src/errors.js'
import { platformFor } from '../../src/platform.js'
import { isAlive, Sandbox, waitFor } from '../helpers/sandbox.js'
import { repoRoot } from '../helpers/claude.js'

/** A user of this branch's own: its /run/user/<uid> is made (and removed) by the test, so no other test's daemon is met. */
const USER = 'ccred-rdv'

function makeUser(): { uid: number; gid: number } | string {
  if (process.platform !== 'linux') return 'needs Linux (/run/user, /proc)'
  if (process.getuid?.() !== 0) return 'needs root to create a user with useradd'
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' })
  } catch {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER], { stdio: 'ignore' })
    } catch (error) {
      return `useradd ${USER} failed: ${(error as Error).message}`
    }
  }
  return { uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim()) }
}

const userOrReason = makeUser()
const user = typeof userOrReason === 'string' ? undefined : userOrReason
const needsUser = user === undefined ? { skip: userOrReason as string } : {}

const cleanups: (() => void | Promise<void>)[] = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

function daemonsOf(uid: number): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).filter((name) => {
    try {
      return readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('daemon\0run') && readFileSync(`/proc/${name}/status`, 'utf8').includes(`\nUid:\t${uid}\t`)
    } catch {
      return false
    }
  }).map(Number)
}

function run(command: string, args: string[], env: Record<string, string>, ids: { uid: number; gid: number }, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, uid: ids.uid, gid: ids.gid, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d })
    child.stderr.on('data', (d: Buffer) => { stderr += d })
    child.on('error', reject)
    // 'close': every holder of the pipes has closed them, the daemon included.
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('rendezvous: one daemon per user, found from any environment', () => {
  it('a get from the shell, from env -i, with Codex\'s MCP allow-list and with Claude Code\'s stripped environment: one daemon, one upstream fetch', needsUser, async () => {
    const { uid, gid } = user!
    const loginDir = `/run/user/${uid}`
    assert.equal(existsSync(loginDir), false, `${loginDir} exists already; another run of this test may be going on`)
    mkdirSync(loginDir, { mode: 0o700 })
    chownSync(loginDir, uid, gid)
    cleanups.push(() => rmSync(loginDir, { recursive: true, force: true }))
    assert.equal(loginRuntimeDir('linux', uid), loginDir, 'logind\'s directory is taken when it is the user\'s 0700 directory')

    const home = mkdtempSync('/tmp/ccr-rdv-')
    cleanups.push(() => rmSync(home, { recursive: true, force: true }))
    const counter = join(home, 'fetches')
    const script = join(home, 'fetch.sh')
    writeFileSync(script, `#!/bin/sh\necho run >> ${counter}\necho "tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')"\n`, { mode: 0o755 })
    mkdirSync(join(home, '.config', 'ccred'), { recursive: true })
    writeFileSync(join(home, '.config', 'ccred', 'config.toml'), `[profiles.demo]\nsource = "exec"\ncommand = ["${script}"]\nlifetime = "10m"\n`, { mode: 0o600 })
    execFileSync('chown', ['-R', `${uid}:${gid}`, home])
    execFileSync('chmod', ['700', home])
    cleanups.push(() => { for (const pid of daemonsOf(uid)) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } })

    const cli = join(repoRoot(), 'dist', 'cmd', 'ccred.cjs')
    const node = process.execPath
    const path = process.env.PATH ?? '/usr/bin:/bin'
    const shell = { HOME: home, PATH: path, USER, XDG_RUNTIME_DIR: loginDir, XDG_CACHE_HOME: join(home, '.xcache'), LANG: 'C.UTF-8' }
    const values: string[] = []
    const ask = async (what: string, command: string, args: string[], env: Record<string, string>) => {
      const result = await run(command, args, env, { uid, gid }, home)
      assert.equal(result.code, 0, `${what}: ${result.stderr}`)
      values.push(result.stdout)
    }
    await ask('shell', node, [cli, 'get', 'demo'], shell)
    await ask('env -i', '/usr/bin/env', ['-i', `HOME=${home}`, `PATH=${path}`, node, cli, 'get', 'demo'], {})
    await ask('Codex MCP helper (sh -c, allow-listed environment)', '/bin/sh', ['-c', `"${node}" "${cli}" get demo`], { HOME: home, PATH: path, SHELL: '/bin/sh', LANG: 'C.UTF-8', TERM: 'xterm', PWD: home })
    await ask('Claude Code project helper (stripped environment)', '/bin/sh', ['-c', `"${node}" "${cli}" get demo`], { HOME: home, PATH: path, PWD: home, CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli' })

    assert.equal(new Set(values).size, 1, 'every caller got the one cached value')
    assert.equal(readFileSync(counter, 'utf8').split('\n').filter(Boolean).length, 1, 'one upstream fetch')
    assert.equal(daemonsOf(uid).length, 1, 'one daemon process for the user')
    assert.ok(existsSync(join(loginDir, 'ccred', 'ccred.sock')), 'the daemon listens in /run/user/<uid>/ccred')
  })
})

describe('rendezvous: helper hygiene (the autostarted daemon keeps nothing of its caller)', () => {
  it('get exec\'d as Codex does, then the caller\'s process group killed: the daemon lives on in its own session, nothing else is left, it holds none of the caller\'s pipes', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const box = new Sandbox()
    cleanups.push(() => box.cleanup())
    const fdsFile = box.file('caller-fds')
    // The caller records which pipes its stdout and stderr are, then runs get with stderr to /dev/null (a helper line's `2>/dev/null`).
    const caller = box.writeScript('caller.sh', `#!/bin/sh\nreadlink /proc/$$/fd/1 > ${fdsFile}\nreadlink /proc/$$/fd/2 >> ${fdsFile}\nexec "${process.execPath}" "${box.cliPath}" get demo 2>/dev/null\n`)
    const child = spawn(caller, [], { env: box.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    const groupId = child.pid!
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    assert.equal(code, 0)
    assert.match(stdout, /^[^\n]+\n$/)

    const daemon = box.daemonPid()
    assert.ok(daemon !== undefined && isAlive(daemon), 'the autostarted daemon runs')
    const stat = readFileSync(`/proc/${daemon}/stat`, 'utf8').slice(readFileSync(`/proc/${daemon}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ')
    const [daemonGroup, daemonSession] = [Number(stat[2]), Number(stat[3])]
    assert.equal(daemonSession, daemon, 'the daemon leads its own session (setsid)')
    assert.notEqual(daemonGroup, groupId)

    const callerPipes = readFileSync(fdsFile, 'utf8').split('\n').filter(Boolean)
    assert.equal(callerPipes.length, 2)
    const daemonFds = readdirSync(`/proc/${daemon}/fd`).map((fd) => { try { return readlinkSync(`/proc/${daemon}/fd/${fd}`) } catch { return '' } })
    for (const pipe of callerPipes) assert.ok(!daemonFds.includes(pipe), `the daemon holds the caller's ${pipe}: ${daemonFds.join(' ')}`)

    const inGroup = () => readdirSync('/proc').filter((name) => /^\d+$/.test(name)).filter((name) => {
      try {
        const s = readFileSync(`/proc/${name}/stat`, 'utf8')
        return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[2]) === groupId
      } catch { return false }
    })
    assert.deepEqual(inGroup(), [], 'nothing of ccred is left in the caller\'s process group')
    try { process.kill(-groupId, 'SIGKILL') } catch { /* empty group: ESRCH */ }
    await waitFor(() => true, 'the kill to land')
    assert.ok(isAlive(daemon), 'the daemon survives its caller\'s group being killed')
    const again = await box.run(['get', 'demo'])
    assert.equal(again.stdout, stdout, 'and still serves the cached value')
  })
})

describe('rendezvous: the client checks who answers before it sends anything (Windows rules, run on Linux)', () => {
  it('the real daemon proves its key and serves; after it dies, a stand-in on its recorded pipe name gets only the challenge and the client says ERR_DAEMON', async () => {
    const box = new Sandbox({ USERNAME: 'ann' })
    cleanups.push(() => box.cleanup())
    const counter = box.file('fetches')
    box.writeConfig(`[profiles.demo]\nsource = "exec"\ncommand = ["${box.writeScript('fetch.sh', `#!/bin/sh\necho run >> ${counter}\necho tok-genuine\n`)}"]\nlifetime = "10m"\n`)
    // A pipe name is a relative path to a Unix socket here: in a directory of the test's own.
    const previousCwd = process.cwd()
    process.chdir(box.root)
    cleanups.push(() => process.chdir(previousCwd))
    const windows = platformFor('win32', box.env, () => box.home)

    const daemon = await startDaemon({ env: box.env, log: () => {}, platform: windows })
    const ask = () => requestDaemon(box.env, 'POST', '/v1/credential', { profile: 'demo', callerTtlMs: 60_000 }, 10_000, windows)
    const genuine = unwrap<{ value: string }>(await ask())
    assert.equal(genuine.value, 'tok-genuine')
    const pipeRecord = readFileSync(join(box.runtimeDir, 'daemon.pipe'), 'utf8')
    const keyRecord = readFileSync(join(box.runtimeDir, 'daemon.key'), 'utf8')
    assert.match(keyRecord, /^[0-9a-f]{64}\n$/)
    await daemon.stop()
    // A crash leaves both records behind (stop removes them).
    writeFileSync(join(box.runtimeDir, 'daemon.pipe'), pipeRecord)
    writeFileSync(join(box.runtimeDir, 'daemon.key'), keyRecord)

    const seen: string[] = []
    const impostor = createServer((conn) => {
      conn.on('data', (data) => {
        seen.push(String(data).split('\r\n')[0]!)
        const body = JSON.stringify({ proof: '0'.repeat(64), value: 'tok-impostor', header: 'Authorization', profile: 'demo' })
        conn.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      })
    })
    await new Promise<void>((resolve) => impostor.listen(pipeRecord.trim(), resolve))
    cleanups.push(() => new Promise<void>((resolve) => impostor.close(() => resolve())))
    await assert.rejects(ask(), (error: unknown) => error instanceof CcredError && error.code === 'ERR_DAEMON' && /did not prove it is your ccred daemon/.test(error.message) && /nothing was sent/.test(error.message))
    assert.deepEqual(seen, ['GET /v1/hello HTTP/1.1'], 'the stand-in got the challenge and nothing else')
    assert.equal(readFileSync(counter, 'utf8'), 'run\n')
  })
})

describe('rendezvous: a stale lock whose pid another process now has', () => {
  it('does not block autostart: get starts a daemon at once, which takes the lock over', { skip: process.platform !== 'linux' && 'the lock names the start time in /proc ticks on Linux' }, async () => {
    const box = new Sandbox()
    cleanups.push(() => box.cleanup())
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' })
    cleanups.push(() => { unrelated.kill() })
    await new Promise((resolve) => unrelated.once('spawn', resolve))
    mkdirSync(box.runtimeDir, { mode: 0o700 })
    // A daemon that died long ago, whose pid sleep now has: same pid, another start time.
    writeFileSync(join(box.runtimeDir, 'daemon.lock'), `${unrelated.pid} 1\n`)
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const daemon = box.daemonPid()
    assert.ok(daemon !== undefined && daemon !== unrelated.pid && isAlive(daemon))
    assert.match(readFileSync(join(box.runtimeDir, 'daemon.lock'), 'utf8'), new RegExp(`^${daemon} \\d+\\n$`))
    assert.ok(isAlive(unrelated.pid!), 'the unrelated process is left alone')
  })
})
