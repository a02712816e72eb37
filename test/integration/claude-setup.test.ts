import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DAEMON_V8_FLAGS } from '../../src/rendezvous/v8-flags.js'
import { loginService } from '../../src/setup/service-install.js'
import { platformFor } from '../../src/platform.js'
import { startGateway } from '../helpers/gateway.js'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()

function sandbox(): Sandbox {
  const box = new Sandbox()
  sandboxes.push(box)
  box.writeConfig(`
[profiles.demo]
source = "demo"
lifetime = "10m"

[profiles.px]
source = "demo"
header = "proxy-authorization"

[profiles.plain]
source = "static"
value = "env:PLAIN_KEY"
`)
  return box
}

const userSettings = (box: Sandbox) => join(box.home, '.claude', 'settings.json')
const read = (path: string) => readFileSync(path, 'utf8')

function writeJson(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
}

describe('ccred setup claude', () => {
  it('merges into the user settings, keeps other keys and the indentation, and --undo restores the file byte for byte', async () => {
    const box = sandbox()
    const original = '{\n    "model": "opus",\n    "permissions": { "allow": ["Bash(ls)"] },\n    "env": { "FOO": "bar", "ANTHROPIC_API_KEY": "sk-canary-leftover-77" }\n}\n'
    writeJson(userSettings(box), original)
    chmodSync(userSettings(box), 0o600)

    const dry = await box.run(['setup', 'claude', 'demo', '--gateway', 'https://llm.example.com', '--fix', '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    // The diff is of the text written: this file's one-line tables come out in its 4-space layout.
    assert.match(dry.stdout, /would change .*settings\.json:\n {2}@@ -3,2 \+3,12 @@\n/)
    assert.match(dry.stdout, /^ {2}\+ {4}"apiKeyHelper": ".*ccred\.cjs' get demo"$/m)
    assert.match(dry.stdout, /^ {2}\+ {8}"CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "330000",$/m, 'the largest safe TTL for 10m credentials: 450 s - 60 s lead - 60 s skew')
    assert.match(dry.stdout, /^ {2}\+ {8}"ANTHROPIC_BASE_URL": "https:\/\/llm\.example\.com"$/m)
    assert.match(dry.stdout, /^ {2}- {4}"env": \{ "FOO": "bar", "ANTHROPIC_API_KEY": <hidden> \}$/m, 'a removed secret is hidden, wherever on its line')
    assert.equal(read(userSettings(box)), original, '--dry-run writes nothing')

    const done = await box.run(['setup', 'claude', 'demo', '--gateway', 'https://llm.example.com', '--fix'])
    assert.equal(done.code, 0, done.stderr)
    const written = read(userSettings(box))
    const settings = JSON.parse(written) as { model: string; permissions: unknown; apiKeyHelper: string; env: Record<string, string> }
    assert.equal(settings.model, 'opus')
    assert.deepEqual(settings.permissions, { allow: ['Bash(ls)'] })
    assert.match(settings.apiKeyHelper, /^'.+node' '.+\/dist\/cmd\/ccred\.cjs' get demo$/)
    assert.deepEqual(settings.env, {
      FOO: 'bar',
      CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '330000',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      ANTHROPIC_BASE_URL: 'https://llm.example.com',
    })
    assert.match(written, /^\{\n {4}"model"/, 'the file keeps its 4-space indentation')
    // The backup lives in ccred's private state directory, never beside the file.
    assert.ok(!existsSync(`${userSettings(box)}.ccred-backup`))
    const backups = join(box.stateDir, 'setup-backups')
    const [backup, ...more] = readdirSync(backups)
    assert.deepEqual(more, [], 'one backup: the file as it was before the first setup')
    assert.equal(read(join(backups, backup!)), original)
    assert.equal(statSync(join(backups, backup!)).mode & 0o777, 0o600, 'the backup (which holds the removed key) is private')
    assert.equal(statSync(backups).mode & 0o777, 0o700)
    assert.equal(statSync(box.stateDir).mode & 0o777, 0o700)
    assert.equal(statSync(join(box.stateDir, 'claude-setup.json')).mode & 0o777, 0o600)
    assert.equal(statSync(userSettings(box)).mode & 0o777, 0o600, 'the rewritten file keeps its mode')
    for (const output of [dry.stdout, dry.stderr, done.stdout, done.stderr, read(join(box.stateDir, 'claude-setup.json'))]) {
      assert.ok(!output.includes('sk-canary-leftover-77'), 'a removed secret is never shown or recorded')
    }

    // The helper ccred wrote works as Claude Code would run it.
    const again = await box.run(['setup', 'claude', 'demo', '--gateway', 'https://llm.example.com'])
    assert.match(again.stdout, /no changes/)

    const undone = await box.run(['setup', 'claude', '--undo'])
    assert.equal(undone.code, 0, undone.stderr)
    assert.match(undone.stdout, /restored .* to exactly what it was/)
    assert.equal(read(userSettings(box)), original)
    assert.deepEqual(readdirSync(backups), [], 'undo removes the backup it restored from')
    assert.match((await box.run(['setup', 'claude', '--undo'])).stderr, /nothing to undo/)
  })

  it('a new file is removed again by --undo; a key edited after setup is kept', async () => {
    const box = sandbox()
    const created = await box.run(['setup', 'claude', 'demo'])
    assert.equal(created.code, 0, created.stderr)
    assert.ok(existsSync(userSettings(box)))
    // Messages say what really happened to a file that did not exist: no "previous version".
    assert.match(created.stderr, /a new file: ccred setup claude --undo removes it again/)
    assert.doesNotMatch(created.stderr, /previous version/)
    const dryUndo = await box.run(['setup', 'claude', '--undo', '--dry-run'])
    assert.match(dryUndo.stdout, /^would remove .*settings\.json, which ccred setup claude had created: /m)
    assert.ok(existsSync(userSettings(box)), 'a dry run changes nothing')
    const removed = await box.run(['setup', 'claude', '--undo'])
    assert.equal(removed.code, 0, removed.stderr)
    assert.match(removed.stdout, /^removed .*settings\.json, which ccred setup claude had created: /m)
    assert.doesNotMatch(removed.stdout, /exactly what it was/)
    assert.ok(!existsSync(userSettings(box)), 'setup created it, undo removed it')

    assert.equal((await box.run(['setup', 'claude', 'demo', '--gateway', 'https://a.example.com'])).code, 0)
    const edited = JSON.parse(read(userSettings(box))) as { env: Record<string, string> }
    edited.env.ANTHROPIC_BASE_URL = 'https://my-own.example.com'
    writeFileSync(userSettings(box), JSON.stringify(edited, null, 2))
    const undone = await box.run(['setup', 'claude', '--undo'])
    assert.match(undone.stderr, /kept your later edits of env\.ANTHROPIC_BASE_URL/)
    assert.deepEqual(JSON.parse(read(userSettings(box))), { env: { ANTHROPIC_BASE_URL: 'https://my-own.example.com' } })
  })

  it('per header and mode: proxyAuthHelper, bedrock, vertex; project scope; a static key gets no TTL', async () => {
    const box = sandbox()
    assert.equal((await box.run(['setup', 'claude', 'px', '--proxy', 'http://proxy.example.com:3128'])).code, 0)
    let settings = JSON.parse(read(userSettings(box))) as Record<string, unknown> & { env: Record<string, string> }
    assert.match(String(settings.proxyAuthHelper), /get px$/)
    assert.equal(settings.apiKeyHelper, undefined)
    assert.equal(settings.env.CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER, '1')
    assert.equal(settings.env.HTTPS_PROXY, 'http://proxy.example.com:3128')
    assert.equal(settings.env.CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS, '330000', 'the largest safe TTL for 10m credentials')

    assert.equal((await box.run(['setup', 'claude', 'demo', '--mode', 'bedrock', '--gateway', 'https://gw.example.com/bedrock'])).code, 0)
    settings = JSON.parse(read(userSettings(box))) as typeof settings
    assert.equal(settings.env.CLAUDE_CODE_USE_BEDROCK, '1')
    assert.equal(settings.env.CLAUDE_CODE_SKIP_BEDROCK_AUTH, '1')
    assert.equal(settings.env.ANTHROPIC_BEDROCK_BASE_URL, 'https://gw.example.com/bedrock')

    assert.equal((await box.run(['setup', 'claude', 'demo', '--mode', 'vertex', '--gateway', 'https://gw.example.com/vertex_ai/v1', '--project', 'p1'])).code, 0)
    settings = JSON.parse(read(userSettings(box))) as typeof settings
    assert.equal(settings.env.CLAUDE_CODE_USE_BEDROCK, undefined, 'switching modes removes the other mode\'s flag')
    assert.equal(settings.env.CLAUDE_CODE_USE_VERTEX, '1')
    assert.equal(settings.env.ANTHROPIC_VERTEX_PROJECT_ID, 'p1')
    assert.equal(settings.env.CLOUD_ML_REGION, 'us-east5')
    assert.equal(settings.env.CLAUDE_CODE_SKIP_VERTEX_AUTH, '1')

    const project = join(box.home, 'project')
    mkdirSync(project)
    const scoped = await box.run(['setup', 'claude', 'plain', '--scope', 'project'], { env: { PLAIN_KEY: 'sk-plain-canary-1' }, cwd: project })
    assert.equal(scoped.code, 0, scoped.stderr)
    const projectSettings = JSON.parse(read(join(project, '.claude', 'settings.json'))) as { apiKeyHelper: string; env: Record<string, string> }
    assert.equal(projectSettings.apiKeyHelper, 'ccred get plain', 'a file the project shares runs ccred from PATH, not this machine\'s paths')
    assert.match(scoped.stderr, /^ccred: note: Claude Code runs a helper from project settings only after you trust this workspace/m)
    assert.equal(projectSettings.env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS, undefined, 'a key that never expires: Claude Code keeps its default TTL')
    assert.ok(!scoped.stderr.includes('sk-plain-canary-1'))
  })

  it('bad input: unknown profile, bad URL, vertex without project, invalid settings JSON (left untouched)', async () => {
    const box = sandbox()
    const unknown = await box.run(['setup', 'claude', 'nosuch'])
    assert.equal(unknown.code, 4)
    const badUrl = await box.run(['setup', 'claude', 'demo', '--gateway', 'llm.example.com'])
    assert.equal(badUrl.code, 2)
    assert.match(badUrl.stderr, /--gateway must be an http\(s\) URL/)
    const noProject = await box.run(['setup', 'claude', 'demo', '--mode', 'vertex'])
    assert.equal(noProject.code, 2)
    assert.match(noProject.stderr, /--mode vertex needs --project/)
    writeJson(userSettings(box), '{ "model": "opus", }')
    const invalid = await box.run(['setup', 'claude', 'demo'])
    assert.equal(invalid.code, 3)
    assert.match(invalid.stderr, /is not valid JSON .*; ccred will not rewrite it/)
    assert.equal(read(userSettings(box)), '{ "model": "opus", }')
  })
})

describe('ccred doctor', () => {
  it('after setup: every check ok and the gateway reachable; exit 0', async () => {
    const box = sandbox()
    const gateway = await startGateway()
    try {
      assert.equal((await box.run(['setup', 'claude', 'demo', '--gateway', gateway.url])).code, 0)
      const doctor = await box.run(['doctor', 'demo'])
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr)
      assert.match(doctor.stdout, /^profile demo +ok +demo: opaque token, 43 chars, expires in/m)
      assert.match(doctor.stdout, /^claude apiKeyHelper +ok +".*get demo" from user settings/m)
      assert.match(doctor.stdout, /^gateway +ok +ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+ \(user\) answers \(HTTP 200\)/m)
      const json = JSON.parse((await box.run(['doctor', 'demo', '--json'])).stdout) as { ok: boolean; checks: { check: string; verdict: string }[] }
      assert.equal(json.ok, true)
      const value = JSON.parse((await box.run(['get', 'demo', '--json'])).stdout) as { value: string }
      assert.ok(!doctor.stdout.includes(value.value), 'doctor never prints the credential')
    } finally {
      await gateway.close()
    }
  })

  it('flags ANTHROPIC_API_KEY in the environment and a project apiKeyHelper overriding the user one; exit 13', async () => {
    const box = sandbox()
    assert.equal((await box.run(['setup', 'claude', 'demo'])).code, 0)
    const project = join(box.home, 'work')
    writeJson(join(project, '.claude', 'settings.json'), '{ "apiKeyHelper": "echo sk-project-key" }\n')
    const doctor = await box.run(['doctor'], { env: { ANTHROPIC_API_KEY: 'sk-canary-shell-99' }, cwd: project })
    assert.equal(doctor.code, 13, doctor.stdout)
    assert.match(doctor.stdout, /^shell ANTHROPIC_API_KEY +FAIL +set in this shell's environment: it wins over the helper/m)
    assert.match(doctor.stdout, /^claude apiKeyHelper +WARN +"echo sk-project-key" from project settings; overrides the one in user settings/m)
    assert.ok(!doctor.stdout.includes('sk-canary-shell-99'))
    const fixed = await box.run(['setup', 'claude', 'demo', '--fix'], { cwd: project })
    assert.match(fixed.stderr, /removed: apiKeyHelper in project settings/)
    assert.equal(JSON.parse(read(join(project, '.claude', 'settings.json'))).apiKeyHelper, undefined)
    const after = await box.run(['doctor', 'demo'], { cwd: project })
    assert.equal(after.code, 0, after.stdout)
  })
})

describe('ccred daemon install / uninstall', () => {
  it('writes a systemd user unit that runs `daemon run` with core dumps off, and removes it', { skip: process.platform !== 'linux' ? 'systemd units are Linux-only' : false }, async () => {
    const box = sandbox()
    const installed = await box.run(['daemon', 'install'], { env: { CCRED_SERVICE_MANAGER: 'none' } })
    assert.equal(installed.code, 0, installed.stderr)
    const unitPath = join(box.home, '.config', 'systemd', 'user', 'ccred.service')
    assert.equal(installed.stdout, `${unitPath}\n`)
    const unit = read(unitPath)
    assert.match(unit, /^ExecStart=\S+node --max-semi-space-size=1 \S+\/dist\/cmd\/ccred\.cjs daemon run$/m, 'the V8 memory flag of the service unit')
    // The claim "the same V8 memory flag as the autostarted daemon", checked on a running one:
    // the flags between node and the bin in its /proc/<pid>/cmdline are the unit's, and the constant's.
    const unitFlags = /^ExecStart=\S+ (.*) \S+\/dist\/cmd\/ccred\.cjs daemon run$/m.exec(unit)![1]!.split(' ')
    assert.deepEqual(unitFlags, DAEMON_V8_FLAGS)
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const daemonPid = box.daemonPid()!
    const argv = readFileSync(`/proc/${daemonPid}/cmdline`, 'utf8').split('\0').filter(Boolean)
    const binIndex = argv.findIndex((arg) => arg.endsWith('/dist/cmd/ccred.cjs'))
    assert.ok(binIndex > 0, `the autostarted daemon runs the bin: ${argv.join(' ')}`)
    assert.deepEqual(argv.slice(1, binIndex), unitFlags, `the autostarted daemon's V8 flags: ${argv.join(' ')}`)
    assert.deepEqual(argv.slice(binIndex + 1), ['daemon', 'run'])
    assert.equal((await box.run(['daemon', 'stop'])).code, 0)
    assert.match(unit, /^LimitCORE=0$/m)
    assert.match(unit, new RegExp(`^Environment=CCRED_RUNTIME_DIR=${box.runtimeDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
    assert.match(installed.stderr, /to start it now and at login, run:\n {2}systemctl --user daemon-reload\n {2}systemctl --user enable --now ccred\.service/)
    const removed = await box.run(['daemon', 'uninstall'], { env: { CCRED_SERVICE_MANAGER: 'none' } })
    assert.equal(removed.code, 0)
    assert.ok(!existsSync(unitPath))
  })
})

/**
 * A minimal reader for the plist subset launchd agents use (dict, array, key, string, integer,
 * true/false): enough to check the file is well formed and says what it should, on any platform.
 */
function readPlist(xml: string): unknown {
  const body = /<plist version="1\.0">\s*([\s\S]*)<\/plist>\s*$/.exec(xml)
  assert.ok(body !== null, 'a plist 1.0 document')
  const tokens = body[1]!.match(/<[^>]+>|[^<]+/g)!.filter((token) => token.trim() !== '')
  let at = 0
  const unescape = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
  const text = (close: string): string => {
    let value = ''
    while (tokens[at] !== close) value += tokens[at++]
    at++
    return unescape(value)
  }
  const value = (): unknown => {
    const tag = tokens[at++]!
    if (tag === '<string>') return tokens[at] === '</string>' ? (at++, '') : text('</string>')
    if (tag === '<integer>') return Number(text('</integer>'))
    if (tag === '<true/>') return true
    if (tag === '<false/>') return false
    if (tag === '<array>') {
      const items: unknown[] = []
      while (tokens[at] !== '</array>') items.push(value())
      at++
      return items
    }
    if (tag === '<dict>') {
      const entries: Record<string, unknown> = {}
      while (tokens[at] !== '</dict>') {
        assert.equal(tokens[at++], '<key>', `a key in a dict, at token ${at}`)
        const key = text('</key>')
        entries[key] = value()
      }
      at++
      return entries
    }
    throw new Error(`unexpected plist token ${tag}`)
  }
  const root = value()
  assert.equal(at, tokens.length, 'nothing after the root dict')
  return root
}

describe('ccred daemon install on macOS: the launchd agent', () => {
  it('runs `daemon run` with the V8 flags, the passed variables, core dumps off, restarts after a crash, and escapes what it quotes', () => {
    const home = '/Users/a&b <tester>'
    const env = { HOME: home, CCRED_CONFIG: '/Users/a&b <tester>/cfg & more.toml', CCRED_RUNTIME_DIR: '/tmp/run', XDG_STATE_HOME: '', UNRELATED: 'x' }
    const uid = process.getuid?.() ?? 501
    const service = loginService(platformFor('darwin', env), '/usr/local/bin/node', '/opt/ccred & co/dist/cmd/ccred.cjs', uid)!
    assert.equal(service.kind, 'launchd')
    assert.equal(service.path, join(home, 'Library', 'LaunchAgents', 'dev.ccred.daemon.plist'))
    assert.match(service.text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN" "http:\/\/www\.apple\.com\/DTDs\/PropertyList-1\.0\.dtd">\n/)
    assert.deepEqual(readPlist(service.text), {
      Label: 'dev.ccred.daemon',
      ProgramArguments: ['/usr/local/bin/node', ...DAEMON_V8_FLAGS, '/opt/ccred & co/dist/cmd/ccred.cjs', 'daemon', 'run'],
      EnvironmentVariables: { CCRED_CONFIG: '/Users/a&b <tester>/cfg & more.toml', CCRED_RUNTIME_DIR: '/tmp/run' },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      SoftResourceLimits: { Core: 0 },
      HardResourceLimits: { Core: 0 },
      StandardErrorPath: join(home, 'Library', 'Logs', 'ccred', 'daemon.log'),
    })
    assert.deepEqual(service.prepare, [['launchctl', 'bootout', `gui/${uid}/dev.ccred.daemon`]], 'a loaded agent is booted out first (re-install)')
    assert.deepEqual(service.enable, [['launchctl', 'bootstrap', `gui/${uid}`, service.path]])
    assert.deepEqual(service.disable, [['launchctl', 'bootout', `gui/${uid}/dev.ccred.daemon`]])
  })

  it('carries only the runtime directory when nothing is passed (launchd\'s own TMPDIR must not decide where the socket is)', () => {
    const parsed = readPlist(loginService(platformFor('darwin', { HOME: '/Users/t' }), '/n', '/b', 501)!.text) as Record<string, unknown>
    assert.deepEqual(parsed.EnvironmentVariables, { CCRED_RUNTIME_DIR: '/Users/t/Library/Caches/ccred/run' })
    assert.deepEqual(parsed.ProgramArguments, ['/n', ...DAEMON_V8_FLAGS, '/b', 'daemon', 'run'])
  })
})
