// Issue 22's attacks on the real daemon and CLI: purging in a loop to drive the upstream,
// secret files another user controls (a second Unix user, made with useradd; root only),
// a FIFO as a secret file, a helper that prints the live token on stderr, and core dumps
// of `ccred exec`'s child without prlimit on PATH.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Sandbox } from '../helpers/sandbox.js'

const boxes: Sandbox[] = []
after(async () => { await Promise.all(boxes.map((box) => box.cleanup())) })
function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const box = new Sandbox(extraEnv)
  boxes.push(box)
  return box
}

/** One request to the daemon's socket, as any process of the user could send it. */
function daemonPost(box: Sandbox, path: string, body: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body)
    const req = request({ socketPath: join(box.runtimeDir, 'ccred.sock'), path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), host: 'ccred' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** Upstream calls an exec helper made: one line each in its log. */
const calls = (log: string) => readFileSync(log, 'utf8').split('\n').filter((line) => line !== '').length

describe('purge cannot reset the upstream budget (real daemon)', () => {
  for (const failing of [false, true]) {
    it(`20 × (POST /v1/purge, POST /v1/credential) on a ${failing ? 'failing' : 'working'} source stay within the budget`, async () => {
      const box = sandbox()
      const log = box.file('calls.log')
      writeFileSync(log, '')
      const helper = box.writeScript('helper.sh', `#!/bin/sh\necho call >> ${log}\n${failing ? 'echo "upstream down" >&2\nexit 1' : 'echo "tok-$(date +%s%N)"'}\n`)
      box.writeConfig(`[profiles.p]\nsource = "exec"\ncommand = ["${helper}"]\nlifetime = "1h"\n`)
      const started = await box.run(['daemon', 'start'])
      assert.equal(started.code, 0, started.stderr)
      const startedAtMs = Date.now()
      for (let round = 0; round < 20; round++) {
        await daemonPost(box, '/v1/purge', { profile: 'p' })
        await daemonPost(box, '/v1/credential', { profile: 'p', clientPid: process.pid })
      }
      const spanMs = Date.now() - startedAtMs
      // The first fetch, a bucket of 3, one token per 10 s; a failing source: two tries, then 1 s, 2 s, 4 s … of backoff.
      const bound = failing ? 2 + Math.ceil(Math.log2(spanMs / 1000 + 1)) : 4 + Math.floor(spanMs / 10_000)
      assert.ok(calls(log) <= bound, `${calls(log)} upstream calls in ${spanMs} ms (bound ${bound})`)
    })
  }
})

/** The second user of this file's attacks (a name of its own: other suites make theirs). */
const OTHER_USER = 'ccredhostile22'

function otherUser(): { uid: number; gid: number } | string {
  if (process.platform !== 'linux') return 'needs Linux'
  if (process.getuid?.() !== 0) return 'needs root to create a second user with useradd'
  try {
    execFileSync('id', ['-u', OTHER_USER], { stdio: 'ignore' })
  } catch {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OTHER_USER], { stdio: 'ignore' })
    } catch (error) {
      return `useradd ${OTHER_USER} failed: ${(error as Error).message}`
    }
  }
  return { uid: Number(execFileSync('id', ['-u', OTHER_USER], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', OTHER_USER], { encoding: 'utf8' }).trim()) }
}

describe('file: secrets another user controls (real daemon)', () => {
  const other = otherUser()
  const needsOther = typeof other === 'string' ? { skip: other } : {}
  const shared = mkdtempSync(join(tmpdir(), 'ccr-shared-'))
  after(() => rmSync(shared, { recursive: true, force: true }))

  it('a key file owned by another user is never served as yours', needsOther, async () => {
    const { uid, gid } = other as { uid: number; gid: number }
    chmodSync(shared, 0o755)
    const key = join(shared, 'gwkey')
    writeFileSync(key, 'OTHER-USERS-KEY-5150\n', { mode: 0o644 })
    chownSync(key, uid, gid)
    const box = sandbox()
    box.writeConfig(`[profiles.gw]\nsource = "static"\nvalue = "file:${key}"\n`)
    const got = await box.run(['get', 'gw'])
    assert.equal(got.code, 5, got.stderr)
    assert.equal(got.stdout, '')
    assert.match(got.stderr, new RegExp(`secret file ${key} belongs to uid ${uid}, not to you \\(uid 0\\) or root; refusing to use it \\[ERR_REFERENCE\\] — run: chown 0 `))
  })

  it('a key file in a directory another user owns is refused too (they could swap it)', needsOther, async () => {
    const { uid, gid } = other as { uid: number; gid: number }
    const theirs = join(shared, 'theirs')
    mkdirSync(theirs, { mode: 0o755 })
    chownSync(theirs, uid, gid)
    const key = join(theirs, 'gwkey')
    writeFileSync(key, 'MINE-BUT-IN-THEIR-DIR\n', { mode: 0o600 })
    const box = sandbox()
    box.writeConfig(`[profiles.gw]\nsource = "static"\nvalue = "file:${key}"\n`)
    const got = await box.run(['get', 'gw'])
    assert.equal(got.code, 5, got.stderr)
    assert.match(got.stderr, new RegExp(`${theirs} belongs to uid ${uid}`))
  })

  it('an exec command another user owns is never run as you', needsOther, async () => {
    const { uid, gid } = other as { uid: number; gid: number }
    chmodSync(shared, 0o755)
    const marker = join(shared, 'ran-as-victim')
    const program = join(shared, 'get-key.sh')
    writeFileSync(program, `#!/bin/sh\nid > ${marker}\necho stolen-run\n`, { mode: 0o755 })
    chownSync(program, uid, gid)
    const box = sandbox()
    box.writeConfig(`[profiles.ex]\nsource = "exec"\ncommand = ["${program}"]\n`)
    const got = await box.run(['get', 'ex'])
    assert.equal(got.code, 3, got.stderr)
    assert.match(got.stderr, new RegExp(`exec command ${program} belongs to uid ${uid}, not to you \\(uid 0\\) or root; refusing to use it \\[ERR_CONFIG\\]`))
    assert.equal(spawnSync('test', ['-e', marker]).status, 1, 'the other user\'s program ran')
  })

  it('a FIFO as the key file fails at once, through the daemon, instead of hanging get', async () => {
    const box = sandbox()
    const fifo = box.file('gwkey')
    execFileSync('mkfifo', ['-m', '600', fifo])
    box.writeConfig(`[profiles.gw]\nsource = "static"\nvalue = "file:${fifo}"\n`)
    const started = await box.run(['daemon', 'start'])
    assert.equal(started.code, 0, started.stderr)
    // Nobody ever writes to it: before, get waited for a writer forever.
    const got = await box.run(['get', 'gw'], { timeoutMs: 15_000 })
    assert.equal(got.code, 5, got.stderr)
    assert.match(got.stderr, /secret file \S+ is not a regular file; refusing to use it \[ERR_REFERENCE\]/)
  })
})

/** Every way a helper prints a value: as is, JSON-escaped, URL-encoded, base64, base64url, and inside a Basic user:pass. */
function encodingsOf(value: string): string[] {
  return [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), Buffer.from(value).toString('base64'), Buffer.from(value).toString('base64url'), Buffer.from(`bob:${value}`).toString('base64').slice(8)]
}

describe('a helper\'s stderr never carries the live value (real daemon)', () => {
  it('the current and the previous value, in every encoding, are out of get, status, doctor, the audit log and the daemon log', async () => {
    const box = sandbox()
    const state = box.file('calls')
    // Values with characters each encoding changes: / + = " & and a space-free tail.
    const valueOf = (n: number) => `tok/${n}+Secret="v${n}"&q=${'k'.repeat(12)}${n}`
    const helper = box.writeScript('leaky.cjs', `#!${process.execPath}
const fs = require('fs')
const n = (fs.existsSync(${JSON.stringify(state)}) ? Number(fs.readFileSync(${JSON.stringify(state)}, 'utf8')) : 0) + 1
fs.writeFileSync(${JSON.stringify(state)}, String(n))
const valueOf = ${valueOf.toString()}
if (n <= 2) { console.log(valueOf(n)); process.exit(0) }
const forms = (v) => [v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v), Buffer.from(v).toString('base64'), Buffer.from(v).toString('base64url'), 'Authorization: Basic ' + Buffer.from('bob:' + v).toString('base64')]
console.error('refresh of ' + forms(valueOf(2)).join(' ') + ' refused; old ' + forms(valueOf(1)).join(' '))
process.exit(1)
`)
    box.writeConfig(`[profiles.leaky]\nsource = "exec"\ncommand = ["${helper}"]\nlifetime = "1h"\n`)
    const first = await box.run(['get', 'leaky'])
    assert.equal(first.stdout, `${valueOf(1)}\n`, first.stderr)
    const second = await box.run(['get', 'leaky', '--refresh'])
    assert.equal(second.stdout, `${valueOf(2)}\n`, second.stderr)
    const failed = await box.run(['get', 'leaky', '--refresh'])
    assert.match(failed.stderr, /exited with status 1: refresh of \[redacted\]/)
    const outputs: [string, string][] = [['get', failed.stdout + failed.stderr]]
    for (const args of [['status'], ['status', '--json'], ['doctor', 'leaky'], ['doctor', 'leaky', '--json']]) {
      const result = await box.run(args)
      outputs.push([args.join(' '), result.stdout + result.stderr])
    }
    outputs.push(['audit log', box.auditLog()], ['daemon log', box.daemonLog()])
    assert.match(outputs[2]![1], /refresh of \[redacted\]/, 'status --json shows the redacted last error')
    for (const [what, text] of outputs) {
      for (const value of [valueOf(1), valueOf(2)]) {
        for (const encoded of encodingsOf(value)) {
          for (let i = 0; i + 12 <= encoded.length; i++) assert.ok(!text.includes(encoded.slice(i, i + 12)), `${what} holds ${encoded.slice(i, i + 12)} of ${encoded}:\n${text}`)
        }
      }
    }
  })
})

describe('ccred exec without prlimit on PATH', () => {
  it('the command still runs with core limit 0, and its argv reaches it untouched', async (t) => {
    if (process.platform !== 'linux') {
      t.skip('reads /proc/self/limits (Linux)')
      return
    }
    // This process's limit above zero, so the child would inherit it (ccred cannot lower its own without prlimit).
    spawnSync('prlimit', ['--pid', String(process.pid), '--core=unlimited:unlimited'])
    const coreLine = (text: string) => /^Max core file size\s+(\S+)\s+(\S+)/m.exec(text)?.slice(1, 3)
    const ours = coreLine(readFileSync('/proc/self/limits', 'utf8'))
    assert.notDeepEqual(ours, ['0', '0'], 'the test needs a core limit above zero to inherit')
    const box = sandbox()
    box.writeConfig('[profiles.demo]\nsource = "static"\nvalue = "env:DEMO_KEY"\n')
    const emptyPath = box.file('empty-path')
    mkdirSync(emptyPath)
    const tricky = `a b;$(touch ${box.file('pwned')})"'\``
    const result = await box.run(['exec', 'demo', '--', '/bin/sh', '-c', '/bin/cat /proc/self/limits; printf "[%s]\\n" "$0"', tricky], { env: { DEMO_KEY: 'demo-value', CCRED_NO_DAEMON: '1', PATH: emptyPath } })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(coreLine(result.stdout), ['0', '0'], result.stdout)
    assert.ok(result.stdout.includes(`[${tricky}]`), result.stdout)
    assert.match(result.stderr, /the command runs under ulimit -c 0/)
    assert.equal(spawnSync('test', ['-e', box.file('pwned')]).status, 1, 'an argument was run as shell code')
  })
})
