/**
 * The standalone executable (dist/exe/ccred-linux-x64, `npm run build:exe`) with no node
 * reachable: every command runs with a PATH that holds every program of the test's PATH
 * except node (and npm, npx, corepack), and each test first proves `command -v node` fails
 * there. The daemon it autostarts is the executable itself; the keychain is a real Secret
 * Service; `setup claude` writes a helper line that names the executable alone; and the
 * real Claude Code (a native binary) runs it as its apiKeyHelper.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { repoRoot, runClaude } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun } from '../helpers/claude-world.js'
import { startGateway } from '../helpers/gateway.js'
import { describeResult, Sandbox } from '../helpers/sandbox.js'
import { startSecretService } from '../helpers/secret-service.js'

const EXECUTABLE = join(repoRoot(), 'dist', 'exe', `ccred-${process.platform}-${process.arch}`)
const NODE_PROGRAMS = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack'])

/** A directory of links to every program on this PATH except node's: the PATH of a machine without node. */
function pathWithoutNode(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ccred-nonode-'))
  for (const source of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    let names: string[]
    try { names = readdirSync(source) } catch { continue }
    for (const name of names) {
      if (NODE_PROGRAMS.has(name) || existsSync(join(dir, name))) continue
      try {
        if (!statSync(join(source, name)).isFile()) continue
        symlinkSync(join(source, name), join(dir, name))
      } catch { /* unreadable or raced: not needed */ }
    }
  }
  return { path: dir, dir }
}

/** The proof, run in the environment the executable gets: the shell finds no node there. */
function assertNoNode(env: Record<string, string>): void {
  const probe = spawnSync('/bin/sh', ['-c', 'command -v node || command -v nodejs'], { env, encoding: 'utf8' })
  assert.notEqual(probe.status, 0, `node is reachable on this PATH: ${probe.stdout.trim()}`)
}

const executableMissing = !existsSync(EXECUTABLE)
const skipReason = `no ${EXECUTABLE}: run npm run build:exe first`

describe('the standalone executable with no node reachable', { skip: executableMissing ? skipReason : false }, () => {
  let noNode: { path: string; dir: string }
  before(() => { noNode = pathWithoutNode() })
  after(() => rmSync(noNode.dir, { recursive: true, force: true }))

  function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
    const box = new Sandbox({ PATH: noNode.path, ...extraEnv }, { executable: EXECUTABLE })
    assertNoNode(box.env)
    return box
  }

  it('autostarts itself as the daemon, serves a warm get, reports status and stops', async () => {
    const box = sandbox()
    try {
      // An exec source proves the daemon's own environment has no node either.
      const script = box.writeScript('token.sh', '#!/bin/sh\nif command -v node >/dev/null 2>&1; then echo "node found" >&2; exit 3; fi\necho "tok-$(date +%s%N)"\n')
      box.writeConfig(`[profiles.tok]\nsource = "exec"\ncommand = ["${script}"]\nlifetime = "10m"\n`)
      const first = await box.run(['get', 'tok'])
      assert.equal(first.code, 0, describeResult(first))
      assert.match(first.stdout, /^tok-\d+\n$/)
      const warm = await box.run(['get', 'tok'])
      assert.equal(warm.stdout, first.stdout, 'the second get is the daemon\'s cached value')
      const pid = box.daemonPid()
      assert.ok(pid !== undefined, 'a daemon was started')
      assert.equal(readlinkSync(`/proc/${pid}/exe`), EXECUTABLE, 'the daemon is the executable itself')
      const status = await box.run(['status'])
      assert.equal(status.code, 0, describeResult(status))
      assert.match(status.stdout, new RegExp(`^daemon: +running \\(pid ${pid}, version ${JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).version as string},`, 'm'))
      assert.match(status.stdout, /^store: .* via @napi-rs\/keyring$/m)
      const stop = await box.run(['daemon', 'stop'])
      assert.equal(stop.code, 0, describeResult(stop))
      assert.equal((await box.run(['status'])).stdout.match(/^daemon: +(\S+)/m)?.[1], 'not', 'stopped')
    } finally {
      await box.cleanup()
    }
  })

  it('a jwt profile: ${USER} is the account even with USER and LOGNAME unset (Bun would say "unknown")', async () => {
    const box = sandbox()
    delete box.env.USER
    delete box.env.LOGNAME
    try {
      box.writeConfig('[broker]\nstore = "file"\n\n[profiles.gw]\nsource = "jwt"\n[profiles.gw.jwt]\nalgorithm = "EdDSA"\nkey = "keychain:gw-key"\nlifetime = "10m"\nclaims = { iss = "ccred", aud = "gw", sub = "${USER}" }\n')
      const keygen = await box.run(['jwt', 'keygen', 'gw-key', '--alg', 'EdDSA'])
      assert.equal(keygen.code, 0, describeResult(keygen))
      const got = await box.run(['get', 'gw'])
      assert.equal(got.code, 0, describeResult(got))
      const claims = JSON.parse(Buffer.from(got.stdout.trim().split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
      const account = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim()
      assert.equal(claims.sub, account)
      assert.equal(claims.aud, 'gw')
    } finally {
      await box.cleanup()
    }
  })

  it('the keychain through a real Secret Service: set, then get from the daemon, with the binding inside the executable', async (t) => {
    const ss = await startSecretService()
    if (!ss.ok) {
      t.skip(ss.reason)
      return
    }
    const box = sandbox({ DBUS_SESSION_BUS_ADDRESS: ss.env['DBUS_SESSION_BUS_ADDRESS']! })
    try {
      const secret = `sk-exe-${randomBytes(12).toString('hex')}`
      box.writeConfig('[profiles.gw]\nsource = "static"\nvalue = "keychain:gw-key"\n')
      const set = await box.run(['set', 'gw'], { input: `${secret}\n` })
      assert.equal(set.code, 0, describeResult(set))
      const got = await box.run(['get', 'gw'])
      assert.equal(got.code, 0, describeResult(got))
      assert.equal(got.stdout, `${secret}\n`)
      assert.ok(!box.daemonLog().includes(secret) && !box.auditLog().includes(secret))
    } finally {
      await box.cleanup()
      await ss.stop()
    }
  })

  it('no Secret Service: ERR_KEYCHAIN_UNAVAILABLE, not a missing secret', async () => {
    const box = sandbox({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/ccred-no-bus' })
    try {
      box.writeConfig('[profiles.gw]\nsource = "static"\nvalue = "keychain:gw-key"\n')
      const got = await box.run(['get', 'gw'])
      assert.equal(got.code, 10, describeResult(got))
      assert.match(got.stderr, /\[ERR_KEYCHAIN_UNAVAILABLE\]/)
    } finally {
      await box.cleanup()
    }
  })

  it('setup claude writes a helper line that runs the executable alone, and doctor accepts it', async () => {
    const box = sandbox()
    try {
      const done = await box.run(['setup', 'claude', 'demo'])
      assert.equal(done.code, 0, describeResult(done))
      const settings = JSON.parse(readFileSync(join(box.home, '.claude', 'settings.json'), 'utf8')) as { apiKeyHelper: string }
      assert.equal(settings.apiKeyHelper, `'${EXECUTABLE}' get demo`)
      const doctor = await box.run(['doctor'])
      assert.doesNotMatch(doctor.stdout + doctor.stderr, /apiKeyHelper program/)
      assert.match(doctor.stdout, /claude apiKeyHelper/)
      // The login service runs the executable as the daemon, with no node and no V8 flags.
      const install = await box.run(['daemon', 'install'], { env: { CCRED_SERVICE_MANAGER: 'none' } })
      assert.equal(install.code, 0, describeResult(install))
      const unit = readFileSync(install.stdout.trim(), 'utf8')
      assert.match(unit, new RegExp(`^ExecStart=${EXECUTABLE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} daemon run$`, 'm'))
    } finally {
      await box.cleanup()
    }
  })

  it('garbage on the daemon socket: a 400 and the connection closed, the daemon still serving', async () => {
    const box = sandbox()
    try {
      assert.equal((await box.run(['daemon', 'start'])).code, 0)
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(join(box.runtimeDir, 'ccred.sock'))
        let text = ''
        socket.on('data', (chunk) => { text += chunk.toString('latin1') })
        socket.on('error', reject)
        socket.on('close', () => resolve(text))
        socket.end('garbage\r\n\r\n')
      })
      assert.match(answer, /^HTTP\/1\.1 400 /)
      const got = await box.run(['get', 'demo'])
      assert.equal(got.code, 0, describeResult(got))
    } finally {
      await box.cleanup()
    }
  })

  it('the real Claude Code runs the executable as its apiKeyHelper, with no node on its PATH', { timeout: 150_000 }, async (t) => {
    if (claudeMissing(t)) return
    const box = sandbox()
    const gateway = await startGateway()
    try {
      const env = { ...claudeEnv(box, { ANTHROPIC_BASE_URL: gateway.url }), PATH: noNode.path }
      assertNoNode(env)
      const run = await runClaude({ home: box.home, settings: { apiKeyHelper: `'${EXECUTABLE}' get demo` }, env, timeoutMs: 120_000 })
      assert.equal(run.code, 0, describeRun(run, box))
      assert.match(run.stdout, /pong/)
      const sent = gateway.requests.filter((request) => request.method === 'POST' && request.path.startsWith('/v1/messages'))
      assert.ok(sent.length >= 1 && /^ccred-demo-[0-9a-f]{32}$/.test(sent[0]!.credential ?? ''), `gateway saw: ${JSON.stringify(sent.map((r) => r.credential?.slice(0, 12)))}`)
      const pid = box.daemonPid()
      assert.ok(pid !== undefined && readlinkSync(`/proc/${pid}/exe`) === EXECUTABLE, 'the daemon Claude Code\'s helper started is the executable')
    } finally {
      await gateway.close()
      await box.cleanup()
    }
  })
})
