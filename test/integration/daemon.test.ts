import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { requestDaemon, unwrap } from '../../src/client/transport.js'
import { DAEMON_V8_FLAGS } from '../../src/rendezvous/v8-flags.js'
import type { CcredError } from '../../src/errors.js'
import { CLAUDE_CODE_HELPER_ENV, isAlive, Sandbox, waitFor, oneLineStdout, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()
function sandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const box = new Sandbox(extraEnv)
  sandboxes.push(box)
  return box
}

const COUNTER_SCRIPT = (counterFile: string, sleepSeconds = 0.3) => `#!/bin/sh
echo run >> ${counterFile}
sleep ${sleepSeconds}
echo "tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')"
`

function runs(counterFile: string): number {
  return existsSync(counterFile) ? readFileSync(counterFile, 'utf8').split('\n').filter(Boolean).length : 0
}

describe('daemon lifecycle', () => {
  it('works out of the box: get demo through an autostarted daemon, status shows it', async () => {
    const box = sandbox()
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const value = oneLineStdout(got.stdout)
    assert.match(value, /^ccred-demo-[0-9a-f]{32}$/)
    assert.equal(got.stderr, '')
    const again = await box.run(['get', 'demo'], { distinctCaller: true })
    assert.equal(oneLineStdout(again.stdout), value, 'served from the daemon cache')
    // Claude Code's apiKeyHelper asking again at once: a 401, so a new value.
    const reissued = await box.run(['get', 'demo'], { env: CLAUDE_CODE_HELPER_ENV })
    assert.notEqual(oneLineStdout(reissued.stdout), value)
    const status = await box.run(['status'])
    assert.equal(status.code, 0)
    assert.match(status.stdout, /daemon: +running \(pid \d+/)
    assert.match(status.stdout, /^demo +demo +yes +in 9m/m)
    assert.ok(!status.stdout.includes(value), 'status never shows the secret')
    const json = JSON.parse((await box.run(['status', '--json'])).stdout) as { daemon: { running: boolean }; profiles: { profile: string; cached: boolean; hits: number; fetches: number }[] }
    assert.equal(json.daemon.running, true)
    assert.deepEqual(json.profiles.map((p) => [p.profile, p.cached, p.hits, p.fetches]), [['demo', true, 1, 2]])
    const audit = box.auditLog().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    assert.deepEqual(audit.map((line) => line.served), ['fetch', 'hit', 'reissue'])
    assert.ok(audit.every((line) => line.profile === 'demo' && typeof line.callerPid === 'number' && typeof line.expiresAt === 'string'))
    assert.ok(!box.auditLog().includes(value) && !box.daemonLog().includes(value), 'no secret in the audit or daemon log')
  })

  it('the autostarted daemon runs with the V8 flags of rendezvous/v8-flags.ts (those the systemd unit and launchd agent get)', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const box = sandbox()
    assert.equal((await box.run(['get', 'demo'])).code, 0)
    const args = readFileSync(`/proc/${box.daemonPid()!}/cmdline`, 'utf8').split('\0')
    for (const flag of DAEMON_V8_FLAGS) assert.ok(args.includes(flag), `${flag} in ${args.join(' ')}`)
    assert.ok(args.includes('--max-semi-space-size=1'), 'semi-spaces of 1 MiB, as docs/daemon.md says')
  })

  it('two racing first gets start exactly one daemon', async () => {
    const box = sandbox()
    const results = await Promise.all([1, 2, 3].map(() => box.run(['get', 'demo'], { distinctCaller: true })))
    for (const result of results) assert.equal(result.code, 0, result.stderr)
    assert.equal(new Set(results.map((r) => r.stdout)).size, 1, 'one daemon, one cached value')
    await waitFor(() => box.daemonProcesses().length <= 1, 'losing daemons to exit')
    assert.equal(box.daemonProcesses().length, 1)
    assert.equal(box.daemonLog().match(/listening on/g)?.length, 1)
  })

  it('a killed daemon is replaced by the next get (stale socket and lock)', async () => {
    const box = sandbox()
    assert.equal((await box.run(['get', 'demo'])).code, 0)
    const firstPid = box.daemonPid()!
    process.kill(firstPid, 'SIGKILL')
    await waitFor(() => !isAlive(firstPid), 'the daemon to die')
    assert.ok(existsSync(`${box.runtimeDir}/ccred.sock`), 'the stale socket is still there')
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    oneLineStdout(got.stdout)
    const secondPid = box.daemonPid()!
    assert.notEqual(secondPid, firstPid)
    assert.ok(isAlive(secondPid))
  })

  it('refuses a runtime directory others can access; get still answers in-process with a warning', async () => {
    const box = sandbox()
    mkdirSync(box.runtimeDir, { mode: 0o755 })
    chmodSync(box.runtimeDir, 0o755)
    const start = await box.run(['daemon', 'start'])
    assert.equal(start.code, 11)
    assert.match(start.stderr, /is accessible to other users \(mode 755\); refusing to use it \[ERR_DAEMON\] — run: chmod 700 /)
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0)
    assert.match(oneLineStdout(got.stdout), /^ccred-demo-/)
    assert.match(got.stderr, /not using the daemon: runtime directory .* accessible to other users/)
    assert.equal(box.daemonPid(), undefined, 'no daemon started there')
    assert.ok(!existsSync(`${box.runtimeDir}/ccred.sock`))
  })

  it('daemon start, status, stop; CCRED_NO_DAEMON=1 fetches without one', async () => {
    const box = sandbox()
    assert.equal((await box.run(['daemon', 'status'])).code, 11)
    const start = await box.run(['daemon', 'start'])
    assert.equal(start.code, 0, start.stderr)
    assert.match(start.stderr, /started \(pid \d+/)
    assert.equal((await box.run(['daemon', 'start'])).stderr.includes('already running'), true)
    const status = await box.run(['daemon', 'status'])
    assert.equal(status.code, 0)
    assert.match(status.stdout, /^running \(pid \d+/)
    const socketMode = statSync(`${box.runtimeDir}/ccred.sock`).mode & 0o777
    assert.equal(socketMode, 0o600)
    assert.equal(statSync(box.runtimeDir).mode & 0o777, 0o700)
    const pid = box.daemonPid()!
    assert.equal((await box.run(['daemon', 'stop'])).code, 0)
    await waitFor(() => !isAlive(pid), 'the daemon process to exit')
    assert.ok(!existsSync(`${box.runtimeDir}/ccred.sock`))
    const direct = await box.run(['get', 'demo'], { env: { CCRED_NO_DAEMON: '1' } })
    assert.equal(direct.code, 0)
    assert.match(oneLineStdout(direct.stdout), /^ccred-demo-/)
    assert.equal(box.daemonPid(), undefined)
  })
})

describe('the helper contract', () => {
  it('get never reads stdin: it answers with stdin an open pipe that never ends (as Claude Code leaves it)', async () => {
    const box = sandbox()
    const child = spawn(process.execPath, [box.cliPath, 'get', 'demo'], { env: box.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('get waited on stdin')) }, 15_000)
      child.on('close', (exitCode) => { clearTimeout(timer); resolve(exitCode) })
    })
    assert.equal(code, 0)
    assert.match(stdout, /^ccred-demo-[0-9a-f]{32}\n$/)
    child.stdin.destroy()
  })

  it('SIGTERM stops the daemon cleanly: socket, pid file and lock are removed', async () => {
    const box = sandbox()
    assert.equal((await box.run(['daemon', 'start'])).code, 0)
    const pid = box.daemonPid()!
    process.kill(pid, 'SIGTERM')
    await waitFor(() => !isAlive(pid), 'the daemon to exit')
    for (const name of ['ccred.sock', 'daemon.pid', 'daemon.lock']) assert.ok(!existsSync(`${box.runtimeDir}/${name}`), `${name} removed`)
    assert.match(box.daemonLog(), /SIGTERM received/)
  })
})

describe('broker through the daemon', () => {
  it('100 concurrent requests on a cold profile run the source once; so do racing CLI processes', async () => {
    const box = sandbox()
    const counter = box.file('count-a')
    const counterB = box.file('count-b')
    box.writeConfig(`
[profiles.slow]
source = "exec"
command = ["${box.writeScript('slow.sh', COUNTER_SCRIPT(counter))}"]
lifetime = "10m"

[profiles.slow-cli]
source = "exec"
command = ["${box.writeScript('slow-b.sh', COUNTER_SCRIPT(counterB))}"]
lifetime = "10m"
`)
    assert.equal((await box.run(['daemon', 'start'])).code, 0)
    const socket = { CCRED_RUNTIME_DIR: box.runtimeDir }
    const responses = await Promise.all(Array.from({ length: 100 }, () =>
      requestDaemon(socket, 'POST', '/v1/credential', { profile: 'slow', callerTtlMs: 300_000 }).then((r) => unwrap<{ value: string }>(r))))
    assert.equal(runs(counter), 1)
    assert.equal(new Set(responses.map((r) => r.value)).size, 1)
    const cli = await Promise.all(Array.from({ length: 12 }, () => box.run(['get', 'slow-cli'], { distinctCaller: true })))
    assert.ok(cli.every((r) => r.code === 0))
    assert.equal(new Set(cli.map((r) => r.stdout)).size, 1)
    assert.equal(runs(counterB), 1)
  })

  it('two gets from a plain script share one value and one fetch; Claude Code asking again inside the TTL gets a new one', async () => {
    const box = sandbox()
    const counter = box.file('count')
    box.writeConfig(`[profiles.tok]\nsource = "exec"\ncommand = ["${box.writeScript('tok.sh', COUNTER_SCRIPT(counter, 0))}"]\nlifetime = "10m"\n`)
    // A shell script that calls get twice, as a Makefile or CI step would: its nearest non-shell ancestor is this test.
    const script = box.writeScript('twice.sh', `#!/bin/sh\n"${process.execPath}" "${box.cliPath}" get tok\n"${process.execPath}" "${box.cliPath}" get tok\n`)
    const twice = spawnSync('/bin/sh', [script], { env: box.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    assert.equal(twice.status, 0, twice.stderr)
    const [first, second] = twice.stdout.split('\n')
    assert.match(first!, /^tok-[0-9a-f]{12}$/)
    assert.equal(second, first, 'the script gets the cached value')
    assert.equal(runs(counter), 1, 'one upstream fetch')
    // A command of Claude Code's agent (its Bash tool) is a script too.
    const agent = await box.run(['get', 'tok'], { env: { AI_AGENT: 'claude-code_2-1-330_agent', CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli' } })
    assert.equal(oneLineStdout(agent.stdout), first)
    assert.equal(runs(counter), 1)

    // Claude Code's apiKeyHelper: one process (here a node stand-in, not a shell) runs the helper, then again inside its TTL (after a 401).
    const claudeStandIn = `const { spawnSync } = require('node:child_process'); for (let i = 0; i < 2; i++) process.stdout.write(spawnSync(process.execPath, [${JSON.stringify(box.cliPath)}, 'get', 'tok'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).stdout)`
    const helperRuns = spawnSync(process.execPath, ['-e', claudeStandIn], { env: { ...box.env, ...CLAUDE_CODE_HELPER_ENV }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    const [helper, rerun] = helperRuns.stdout.split('\n')
    assert.equal(helper, first, helperRuns.stderr + ' (the first run of this Claude Code process is served from the cache)')
    assert.match(rerun!, /^tok-[0-9a-f]{12}$/)
    assert.notEqual(rerun, first, 'a re-run inside the TTL is a 401: a new value')
    assert.equal(runs(counter), 2)
    assert.deepEqual(box.auditLines().filter((line) => line.event === 'issue').map((line) => line.served), ['fetch', 'hit', 'hit', 'hit', 'reissue'])
  })

  it('as proxyAuthHelper, a re-run with the 407 challenge gets a new value and one without it never does', async () => {
    const box = sandbox()
    box.writeConfig('[profiles.demo]\nsource = "demo"\n')
    const proxyEnv = { CLAUDE_CODE_PROXY_URL: 'http://127.0.0.1:9', CLAUDE_CODE_PROXY_HOST: '127.0.0.1' }
    const first = await box.run(['get', 'demo'], { env: proxyEnv })
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /^Bearer ccred-demo-[0-9a-f]{32}\n$/)
    // The same caller at once, no challenge: a normal re-run (an apiKeyHelper one would count as a 401).
    assert.equal((await box.run(['get', 'demo'], { env: proxyEnv })).stdout, first.stdout)
    const challenged = await box.run(['get', 'demo'], { env: { ...proxyEnv, CLAUDE_CODE_PROXY_AUTHENTICATE: 'Bearer realm="gw"' } })
    assert.equal(challenged.code, 0, challenged.stderr)
    assert.match(challenged.stdout, /^Bearer ccred-demo-[0-9a-f]{32}\n$/)
    assert.notEqual(challenged.stdout, first.stdout)
    const served = box.auditLines().filter((line) => line.event === 'issue').map((line) => line.served)
    assert.deepEqual(served, ['fetch', 'hit', 'reissue'])

    const socket = { CCRED_RUNTIME_DIR: box.runtimeDir }
    const wrongType = await requestDaemon(socket, 'POST', '/v1/credential', { profile: 'demo', rejected: 'yes' })
    assert.throws(() => unwrap(wrongType), (error: CcredError) => error.code === 'ERR_PROTOCOL' && /request\.rejected: must be true or false/.test(error.message))
  })

  it('--refresh fetches a new value; --json and --header shape the output; a short lifetime warns once', async () => {
    const box = sandbox()
    const counter = box.file('count')
    box.writeConfig(`
[profiles.tok]
source = "exec"
command = ["${box.writeScript('tok.sh', COUNTER_SCRIPT(counter, 0))}"]
lifetime = "10m"

[profiles.short]
source = "exec"
command = ["${box.writeScript('short.sh', COUNTER_SCRIPT(box.file('count-short'), 0))}"]
lifetime = "2m"
`)
    const first = oneLineStdout((await box.run(['get', 'tok'])).stdout)
    const refreshed = oneLineStdout((await box.run(['get', 'tok', '--refresh'])).stdout)
    assert.notEqual(refreshed, first)
    assert.equal(runs(counter), 2)
    // Separate callers from here on: the same caller asking again would look like a 401 re-run.
    assert.equal((await box.run(['get', 'tok', '--header', 'proxy-authorization'], { distinctCaller: true })).stdout, `Bearer ${refreshed}\n`)
    assert.equal((await box.run(['get', 'tok'], { env: { CLAUDE_CODE_PROXY_URL: 'http://127.0.0.1:9' }, distinctCaller: true })).stdout, `Bearer ${refreshed}\n`)
    const json = JSON.parse((await box.run(['get', 'tok', '--json'], { distinctCaller: true })).stdout) as Record<string, unknown>
    assert.equal(json.value, refreshed)
    assert.equal(json.source, 'exec')
    assert.equal(json.profile, 'tok')
    assert.ok(Date.parse(json.expiresAt as string) > Date.now() + 9 * 60_000)
    const bad = await box.run(['get', 'tok', '--header', 'x-api-key'])
    assert.equal(bad.code, 2)
    assert.equal(bad.stdout, '')
    assert.match(bad.stderr, /--header must be "authorization" or "proxy-authorization"/)
    const short = await box.run(['get', 'short'])
    assert.equal(short.code, 0)
    // The safe TTL for 2-minute credentials (issue 12's one rule): 120 s · 3/4 − 12 s lead − 60 s skew = 18 s.
    assert.match(short.stderr, /warning: profile short: credentials live 2m, too short for the helper TTL 5m \+ skew 1m \(the largest safe TTL is 18s\); set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=18000/)
    assert.equal((await box.run(['get', 'short'])).stderr, '', 'warned once')
    assert.match((await box.run(['status'])).stdout, /short: warning: .*CLAUDE_CODE_API_KEY_HELPER_TTL_MS=18000/)
  })

  it('honours the caller TTL from the environment; reads file references; runs shell commands and JSON output', async () => {
    const box = sandbox()
    const keyFile = box.file('gateway.key')
    writeFileSync(keyFile, 'from-a-file\n', { mode: 0o600 })
    box.writeConfig(`
[profiles.short]
source = "exec"
command = ["${box.writeScript('short.sh', COUNTER_SCRIPT(box.file('count-short'), 0))}"]
lifetime = "2m"

[profiles.filekey]
source = "static"
value = "file:${keyFile}"

[profiles.shelljson]
source = "exec"
shell = true
command = '''printf '{"token": "%s", "expires_in": 900}' "$(echo json-token)"'''
`)
    // 2m can serve a 15 s TTL safely (at most 18 s, see safeHelperTtlMs): no warning, unlike with the 5-minute default.
    const short = await box.run(['get', 'short'], { env: { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '15000' } })
    assert.equal(short.code, 0)
    assert.equal(short.stderr, '')
    const shortDefault = await box.run(['get', 'short', '--json'], { distinctCaller: true })
    assert.match(shortDefault.stderr, /credentials live 2m, too short for the helper TTL 5m/)
    assert.equal((await box.run(['get', 'filekey'])).stdout, 'from-a-file\n')
    const json = JSON.parse((await box.run(['get', 'shelljson', '--json'])).stdout) as { value: string; expiresAt: string }
    assert.equal(json.value, 'json-token')
    const lifetimeMs = Date.parse(json.expiresAt) - Date.now()
    assert.ok(lifetimeMs > 14 * 60_000 && lifetimeMs <= 15 * 60_000, `expires_in 900 s -> ${lifetimeMs} ms`)
  })

  it('reloads the config when the file changes', async () => {
    const box = sandbox({ KEY_A: 'value-a', KEY_B: 'value-b' })
    box.writeConfig('[profiles.a]\nsource = "static"\nvalue = "env:KEY_A"\n')
    assert.equal((await box.run(['get', 'a'])).stdout, 'value-a\n')
    const pid = box.daemonPid()
    const unknown = await box.run(['get', 'b'])
    assert.equal(unknown.code, 4)
    box.writeConfig('[profiles.a]\nsource = "static"\nvalue = "env:KEY_B"\n\n[profiles.b]\nsource = "static"\nvalue = "env:KEY_A"\nheader = "proxy-authorization"\n')
    assert.equal((await box.run(['get', 'b'])).stdout, 'Bearer value-a\n')
    assert.equal((await box.run(['get', 'a'])).stdout, 'value-b\n', 'an edited profile is a new cache key')
    assert.equal(box.daemonPid(), pid, 'same daemon')
  })
})

describe('bad input: clear error, nothing on stdout, the daemon keeps serving', () => {
  it('reports each failure with its code and exit code', async () => {
    const box = sandbox({ PRESENT: 'ok-value' })
    const script = (name: string, body: string) => box.writeScript(name, `#!/bin/sh\n${body}\n`)
    box.writeConfig(`
[profiles.ok]
source = "static"
value = "env:PRESENT"

[profiles.noenv]
source = "static"
value = "env:ABSENT_VAR"

[profiles.nofile]
source = "static"
value = "file:${box.file('missing-key')}"

[profiles.fails]
source = "exec"
command = ["${script('fails.sh', 'echo "upstream said no" >&2; exit 3')}"]

[profiles.slow]
source = "exec"
command = ["${script('slow.sh', 'sleep 30; echo late')}"]
timeout = "300ms"

[profiles.silent]
source = "exec"
command = ["${script('silent.sh', 'exit 0')}"]

[profiles.multiline]
source = "exec"
command = ["${script('multi.sh', 'printf "line1\\nline2\\n"')}"]

[profiles.control]
source = "exec"
command = ["${script('ctl.sh', 'printf "tok\\033[31m\\n"')}"]

[profiles.missingcmd]
source = "exec"
command = ["${box.file('no-such-command')}"]

[profiles.badkeys]
source = "exec"
command = "not an array"
lifetime = "forever"
`)
    const cases: [string, number, RegExp][] = [
      ['nope', 4, /no profile named "nope" in .*config\.toml \[ERR_PROFILE_UNKNOWN\] — profiles in the config: badkeys, control, fails, missingcmd, multiline, noenv, nofile, ok, silent, slow; or add \[profiles\.nope\] to /],
      ['noenv', 5, /profiles\.noenv\.value: environment variable ABSENT_VAR is not set .*\[ERR_REFERENCE\] — export ABSENT_VAR/],
      ['nofile', 5, /profiles\.nofile\.value: file .*missing-key does not exist \[ERR_REFERENCE\]/],
      ['fails', 6, /exec: .*fails\.sh exited with status 3: upstream said no \[ERR_SOURCE_UNAVAILABLE\]/],
      ['slow', 6, /exec: .*slow\.sh timed out after 300ms \[ERR_SOURCE_UNAVAILABLE\]/],
      ['silent', 8, /exec: .*silent\.sh printed nothing \[ERR_SOURCE_OUTPUT\]/],
      ['multiline', 8, /printed 2 lines; a credential must be a single line \[ERR_SOURCE_OUTPUT\]/],
      ['control', 8, /contains a control character; refused \[ERR_SOURCE_OUTPUT\]/],
      ['missingcmd', 6, /no-such-command was not found \[ERR_SOURCE_UNAVAILABLE\]/],
      ['badkeys', 3, /profiles\.badkeys\.command: expected an argv array.*profiles\.badkeys\.lifetime: "forever" is not a duration.* \[ERR_CONFIG\]/],
    ]
    assert.equal((await box.run(['get', 'ok'])).stdout, 'ok-value\n')
    const pid = box.daemonPid()
    for (const [profile, exitCode, pattern] of cases) {
      const result = await box.run(['get', profile])
      assert.equal(result.code, exitCode, `${profile}: ${result.stderr}`)
      assert.equal(result.stdout, '', `${profile}: nothing on stdout`)
      assert.match(result.stderr, pattern, profile)
      assert.equal(result.stderr.trim().split('\n').length, 1, `${profile}: one line on stderr`)
      assert.equal((await box.run(['get', 'ok'])).stdout, 'ok-value\n', `after ${profile}, other profiles still work`)
    }
    assert.equal(box.daemonPid(), pid, 'the same daemon served throughout')
    const status = await box.run(['status'])
    assert.match(status.stdout, /^fails +exec +no .*ERR_SOURCE_UNAVAILABLE \(1x\)/m)
    const profiles = await box.run(['profiles'])
    assert.equal(profiles.code, 3)
    assert.match(profiles.stdout, /badkeys +\? .*ERROR: .*profiles\.badkeys\.command/)
  })

  it('an invalid TOML file names file and line, for get and profiles alike', async () => {
    const box = sandbox()
    box.writeConfig('[profiles.a]\nsource = "demo"\nheader = \n')
    for (const args of [['get', 'a'], ['profiles']]) {
      const result = await box.run(args)
      assert.equal(result.code, 3)
      assert.equal(result.stdout, '')
      assert.match(result.stderr, /config\.toml:3:\d+: invalid TOML: .*\[ERR_CONFIG\] — fix line 3 of /)
    }
    box.writeConfig('[profiles.a]\nsource = "demo"\n')
    assert.equal((await box.run(['get', 'a'])).code, 0, 'fixed file: works again in the same daemon')
  })

  it('usage errors exit 2 with nothing on stdout', async () => {
    const box = sandbox()
    for (const args of [['get'], ['get', 'demo', '--bogus'], ['frobnicate'], ['exec', 'demo']]) {
      const result = await box.run(args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.equal(result.stdout, '')
      assert.notEqual(result.stderr, '')
    }
  })
})

describe('env, exec, init, profiles', () => {
  it('env prints exports; exec scrubs inherited credentials and passes the exit status', async () => {
    const box = sandbox({ GW: 'gw-secret', PX: 'px-secret' })
    box.writeConfig(`
[profiles.gw]
source = "static"
value = "env:GW"

[profiles.px]
source = "static"
value = "env:PX"
header = "proxy-authorization"
`)
    assert.equal((await box.run(['env', 'gw'])).stdout, "export ANTHROPIC_AUTH_TOKEN='gw-secret'\n")
    assert.equal((await box.run(['env', 'px'])).stdout, "export ANTHROPIC_CUSTOM_HEADERS='Proxy-Authorization: Bearer px-secret'\n")
    const exec = await box.run(['exec', 'gw', '--', 'sh', '-c', 'echo "token=$ANTHROPIC_AUTH_TOKEN key=${ANTHROPIC_API_KEY:-unset}"; exit 7'], {
      env: { ANTHROPIC_API_KEY: 'inherited-key', ANTHROPIC_AUTH_TOKEN: 'inherited-token' },
    })
    assert.equal(exec.code, 7)
    assert.equal(exec.stdout, 'token=gw-secret key=unset\n')
    const proxyExec = await box.run(['exec', 'px', '--', 'sh', '-c', 'printf "%s|%s" "$ANTHROPIC_CUSTOM_HEADERS" "${ANTHROPIC_AUTH_TOKEN:-unset}"'], { env: { ANTHROPIC_AUTH_TOKEN: 'inherited' } })
    assert.equal(proxyExec.stdout, 'Proxy-Authorization: Bearer px-secret|unset')
    const missing = await box.run(['exec', 'gw', '--', box.file('nothing-here')])
    assert.equal(missing.code, 127)
  })

  it('init writes a starter config once; profiles lists it', async () => {
    const box = sandbox()
    const none = await box.run(['profiles'])
    assert.match(none.stderr, /embedded default/)
    assert.match(none.stdout, /demo +demo +authorization/)
    const init = await box.run(['init'])
    assert.equal(init.code, 0)
    assert.match(init.stderr, /wrote .*config\.toml/)
    assert.match(readFileSync(box.configPath, 'utf8'), /\[profiles\.demo\]\nsource = "demo"/)
    assert.equal(statSync(box.configPath).mode & 0o777, 0o600)
    const again = await box.run(['init'])
    assert.equal(again.code, 3)
    assert.match(again.stderr, /already exists; not overwriting it/)
    const listed = await box.run(['profiles', '--json'])
    assert.deepEqual((JSON.parse(listed.stdout) as { profiles: { name: string }[] }).profiles.map((p) => p.name), ['demo'])
    assert.equal((await box.run(['get', 'demo'])).code, 0)
  })
})
