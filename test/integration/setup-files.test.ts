// What setup writes, as a repository could try to bend it: files it refuses to write
// through (a link, another user's file), backups kept out of the project, the diff it
// prints against the bytes it writes (applied with the real patch), project files fit to
// commit and an undo that leaves them alone once changed or committed; and `daemon
// install` where no service manager answers. The real CLI in a sandbox throughout.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Sandbox, type CliResult } from '../helpers/sandbox.js'

const sandboxes: Sandbox[] = []
after(async () => { await Promise.all(sandboxes.map((box) => box.cleanup())) })

/** A bearer of another MCP server in the user's ~/.claude.json: it must never reach the project or the output. */
const OTHER_BEARER = 'Bearer other-server-canary-5150'

function sandbox(): Sandbox {
  const box = new Sandbox({ ST_TOKEN: 'st-canary-2718' })
  sandboxes.push(box)
  box.writeConfig(`
[profiles.st]
source = "static"
value = "env:ST_TOKEN"
headers = { Authorization = "Bearer \${token}" }

[profiles.demo]
source = "demo"
lifetime = "10m"
`)
  return box
}

const claudeJson = (box: Sandbox) => join(box.home, '.claude.json')

function writeUserClaudeJson(box: Sandbox): string {
  const text = `${JSON.stringify({ numStartups: 3, mcpServers: { other: { type: 'http', url: 'https://other.example.com/mcp', headers: { Authorization: OTHER_BEARER } } } }, null, 2)}\n`
  writeFileSync(claudeJson(box), text, { mode: 0o600 })
  return text
}

function project(box: Sandbox, name = 'project'): string {
  const dir = box.file(name)
  mkdirSync(dir)
  return dir
}

function assertNoSecrets(...results: CliResult[]): void {
  for (const result of results) {
    for (const canary of ['other-server-canary-5150', 'st-canary-2718']) assert.ok(!`${result.stdout}${result.stderr}`.includes(canary), `${canary} printed`)
  }
}

function git(cwd: string, ...args: string[]): string {
  const result = spawnSync('git', ['-c', 'user.name=ccred test', '-c', 'user.email=test@example.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' })
  assert.equal(result.status, 0, `git ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

/** The diff lines ccred printed for one file (the indented block under "changing …:"). */
function printedDiff(stdout: string): string {
  return stdout.split('\n').filter((line) => line.startsWith('  ')).map((line) => line.slice(2)).join('\n') + '\n'
}

/** Applies a printed diff with the real `patch` to a copy of `before`; returns the patched bytes. */
function patched(box: Sandbox, before: string, diff: string): string {
  const target = box.file(`patched-${Math.random().toString(16).slice(2)}`)
  writeFileSync(target, before)
  const result = spawnSync('patch', ['--silent', '--force', target], { input: `--- a\n+++ b\n${diff}`, encoding: 'utf8' })
  assert.equal(result.status, 0, `patch: ${result.stdout}${result.stderr}\n${diff}`)
  return readFileSync(target, 'utf8')
}

describe('setup refuses a settings file it could be tricked into writing', () => {
  it('a project .mcp.json linked to ~/.claude.json: coded error, nothing written, the target untouched, no secret printed', async () => {
    const box = sandbox()
    const original = writeUserClaudeJson(box)
    const dir = project(box)
    symlinkSync(claudeJson(box), join(dir, '.mcp.json'))
    for (const args of [['--dry-run'], []]) {
      const result = await box.run(['setup', 'mcp', 'docs', 'st', '--project', '--url', 'https://docs.example.com/mcp', ...args], { cwd: dir })
      assert.equal(result.code, 3, result.stderr)
      assert.match(result.stderr, /^ccred: refusing to edit .*\/project\/\.mcp\.json: it is a symbolic link.* \[ERR_CONFIG\]/m)
      assert.equal(result.stdout, '', 'no diff of a file it will not write')
      assertNoSecrets(result)
    }
    assert.equal(readFileSync(claudeJson(box), 'utf8'), original, 'the file the link points to is untouched')
    assert.ok(lstatSync(join(dir, '.mcp.json')).isSymbolicLink(), 'the link is still a link')
    assert.deepEqual(readdirSync(dir), ['.mcp.json'], 'nothing else in the project (no copy, no backup)')
    assert.ok(!existsSync(join(box.stateDir, 'mcp-setup.json')), 'nothing recorded')
  })

  it('setup claude --scope project: a linked settings.json, and a linked .claude directory, are refused the same way', async () => {
    const box = sandbox()
    const userDir = join(box.home, '.claude')
    mkdirSync(userDir)
    const userSettings = join(userDir, 'settings.json')
    writeFileSync(userSettings, '{\n  "model": "opus"\n}\n')
    const linkedFile = project(box, 'linked-file')
    mkdirSync(join(linkedFile, '.claude'))
    symlinkSync(userSettings, join(linkedFile, '.claude', 'settings.json'))
    const linkedDir = project(box, 'linked-dir')
    symlinkSync(userDir, join(linkedDir, '.claude'))
    for (const [dir, why] of [[linkedFile, /it is a symbolic link/], [linkedDir, /the directory .*\/linked-dir\/\.claude is a symbolic link/]] as const) {
      const result = await box.run(['setup', 'claude', 'demo', '--scope', 'project'], { cwd: dir })
      assert.equal(result.code, 3, result.stderr)
      assert.match(result.stderr, /refusing to edit .*\[ERR_CONFIG\]/)
      assert.match(result.stderr, why)
    }
    assert.equal(readFileSync(userSettings, 'utf8'), '{\n  "model": "opus"\n}\n')
    assert.deepEqual(readdirSync(userDir), ['settings.json'], 'no backup or temp file beside it')
  })

  it('a .mcp.json another Unix user owns is refused and left as it is', { skip: process.getuid?.() !== 0 ? 'needs root to create a user and chown' : false }, async () => {
    const user = 'ccred-setupbr-other'
    if (spawnSync('id', ['-u', user]).status !== 0) {
      const added = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user], { encoding: 'utf8' })
      assert.equal(added.status, 0, added.stderr)
    }
    const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim())
    const box = sandbox()
    const dir = project(box)
    const planted = `${JSON.stringify({ mcpServers: { docs: { type: 'http', url: 'https://docs.example.com/mcp' } } }, null, 2)}\n`
    writeFileSync(join(dir, '.mcp.json'), planted)
    chownSync(join(dir, '.mcp.json'), uid, uid)
    const result = await box.run(['setup', 'mcp', 'docs', 'st', '--project'], { cwd: dir })
    assert.equal(result.code, 3, result.stderr)
    assert.match(result.stderr, new RegExp(`refusing to edit .*\\.mcp\\.json: it belongs to uid ${uid}, not to you \\(uid 0\\).*\\[ERR_CONFIG\\]`))
    assert.equal(readFileSync(join(dir, '.mcp.json'), 'utf8'), planted)
    assert.equal(statSync(join(dir, '.mcp.json')).uid, uid)
    assert.deepEqual(readdirSync(dir), ['.mcp.json'])
  })
})

describe('setup shows what it writes and keeps backups private', () => {
  it('the printed diff, applied by patch, gives the written bytes; the backup is in the state directory (0600), never beside the file', async () => {
    const box = sandbox()
    const original = writeUserClaudeJson(box)
    const done = await box.run(['setup', 'mcp', 'other', 'st'])
    assert.equal(done.code, 0, done.stderr)
    assert.equal(patched(box, original, printedDiff(done.stdout)), readFileSync(claudeJson(box), 'utf8'), 'diff == written bytes')
    assertNoSecrets(done)
    assert.deepEqual(readdirSync(box.home).filter((name) => name.includes('ccred-backup')), [])
    const backups = join(box.stateDir, 'setup-backups')
    const files = readdirSync(backups)
    assert.equal(files.length, 1)
    assert.equal(readFileSync(join(backups, files[0]!), 'utf8'), original)
    assert.equal(statSync(join(backups, files[0]!)).mode & 0o777, 0o600)
    assert.equal(statSync(backups).mode & 0o777, 0o700)
    assert.equal(statSync(join(box.stateDir, 'mcp-setup.json')).mode & 0o777, 0o600)

    // A new file: the diff is the whole file.
    const created = await box.run(['setup', 'claude', 'demo'])
    assert.equal(created.code, 0, created.stderr)
    assert.equal(patched(box, '', printedDiff(created.stdout)), readFileSync(join(box.home, '.claude', 'settings.json'), 'utf8'))
  })
})

describe('undo writes through no link either', () => {
  it('a file replaced by a link after setup is left (and its target untouched); the record keeps it for a later undo', async () => {
    const box = sandbox()
    writeUserClaudeJson(box)
    assert.equal((await box.run(['setup', 'mcp', 'other', 'st'])).code, 0)
    const elsewhere = box.file('elsewhere.json')
    writeFileSync(elsewhere, readFileSync(claudeJson(box)))
    const before = readFileSync(elsewhere, 'utf8')
    rmSync(claudeJson(box))
    symlinkSync(elsewhere, claudeJson(box))
    const undone = await box.run(['setup', 'mcp', '--undo'])
    assert.equal(undone.code, 0, undone.stderr)
    assert.match(undone.stderr, /left .*\.claude\.json as it is: refusing to edit .*: it is a symbolic link/)
    assert.equal(readFileSync(elsewhere, 'utf8'), before)
    assert.ok(lstatSync(claudeJson(box)).isSymbolicLink())
    assert.match((await box.run(['setup', 'mcp', '--undo'])).stderr, /left .*\.claude\.json as it is/, 'still recorded')
  })
})

describe('project files fit to commit', () => {
  it('setup mcp --project writes `ccred` from PATH, says Claude Code runs it only in a trusted workspace, and doctor checks PATH', async () => {
    const box = sandbox()
    const dir = project(box)
    const created = await box.run(['setup', 'mcp', 'docs', 'st', '--project', '--url', 'https://docs.example.com/mcp'], { cwd: dir })
    assert.equal(created.code, 0, created.stderr)
    const server = (JSON.parse(readFileSync(join(dir, '.mcp.json'), 'utf8')) as { mcpServers: Record<string, { headersHelper: string }> }).mcpServers.docs!
    assert.equal(server.headersHelper, 'ccred get st --format headers', 'no machine-specific path in a file meant for the team')
    assert.equal(created.stderr.split('\n').filter((line) => /only after you trust this workspace/.test(line)).length, 1)
    assert.match(created.stderr, /there is none on this PATH/, 'this PATH has no ccred')

    const noCcred = await box.run(['doctor', '--json'], { cwd: dir })
    const check = (doctor: CliResult) => (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks.find((c) => c.check === 'mcp docs headersHelper')
    assert.equal(check(noCcred)?.verdict, 'fail', noCcred.stdout)
    assert.match(check(noCcred)!.detail, /runs ccred from PATH, and there is none on this PATH/)

    const bin = box.file('bin')
    mkdirSync(bin)
    box.writeScript('bin/ccred', `#!/bin/sh\nexec '${process.execPath}' '${box.cliPath}' "$@"\n`)
    const withCcred = await box.run(['doctor', '--json'], { cwd: dir, env: { PATH: `${bin}:${box.env.PATH}` } })
    assert.doesNotMatch(check(withCcred)?.detail ?? '', /none on this PATH/, withCcred.stdout)
    assert.doesNotMatch((await box.run(['setup', 'mcp', 'docs', 'st', '--project', '--dry-run'], { cwd: dir, env: { PATH: `${bin}:${box.env.PATH}` } })).stderr, /none on this PATH/)

    // setup claude --scope project: the same portable line, the same doctor check.
    assert.equal((await box.run(['setup', 'claude', 'demo', '--scope', 'project'], { cwd: dir })).code, 0)
    assert.equal((JSON.parse(readFileSync(join(dir, '.claude', 'settings.json'), 'utf8')) as { apiKeyHelper: string }).apiKeyHelper, 'ccred get demo')
    const programCheck = (doctor: CliResult) => (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks.find((c) => c.check === 'claude apiKeyHelper program')
    assert.match(programCheck(await box.run(['doctor', '--json'], { cwd: dir }))?.detail ?? '', /runs ccred from PATH, and there is none on this PATH/)
    assert.equal(programCheck(await box.run(['doctor', '--json'], { cwd: dir, env: { PATH: `${bin}:${box.env.PATH}` } })), undefined)

    // The user's own file keeps the absolute command.
    writeUserClaudeJson(box)
    assert.equal((await box.run(['setup', 'mcp', 'other', 'st'])).code, 0)
    assert.match((JSON.parse(readFileSync(claudeJson(box), 'utf8')) as { mcpServers: { other: { headersHelper: string } } }).mcpServers.other.headersHelper, /^'\/.+' '\/.+ccred\.cjs' get st --format headers$/)
  })

  it('--undo removes a .mcp.json it created while it is unchanged and uncommitted, and leaves it once committed or changed', async () => {
    const box = sandbox()
    const url = ['--url', 'https://docs.example.com/mcp']

    // Not in git, unchanged: removed again.
    const plain = project(box, 'plain')
    assert.equal((await box.run(['setup', 'mcp', 'docs', 'st', '--project', ...url], { cwd: plain })).code, 0)
    const removed = await box.run(['setup', 'mcp', '--undo'])
    assert.match(removed.stdout, /^removed .*\/plain\/\.mcp\.json, which ccred setup mcp had created/m)
    assert.ok(!existsSync(join(plain, '.mcp.json')))

    // Committed since: left, and said so.
    const committed = project(box, 'committed')
    git(committed, 'init', '-q')
    assert.equal((await box.run(['setup', 'mcp', 'docs', 'st', '--project', ...url], { cwd: committed })).code, 0)
    git(committed, 'add', '.mcp.json')
    git(committed, 'commit', '-q', '-m', 'share the MCP server')
    const written = readFileSync(join(committed, '.mcp.json'), 'utf8')
    const dry = await box.run(['setup', 'mcp', '--undo', '--dry-run'])
    assert.match(dry.stderr, /left .*\/committed\/\.mcp\.json as it is: it has been committed to git since ccred wrote it/)
    const kept = await box.run(['setup', 'mcp', '--undo'])
    assert.equal(kept.code, 0, kept.stderr)
    assert.match(kept.stderr, /left .*\/committed\/\.mcp\.json as it is: it has been committed to git since ccred wrote it/)
    assert.equal(readFileSync(join(committed, '.mcp.json'), 'utf8'), written)
    assert.equal(git(committed, 'status', '--porcelain'), '', 'the work tree is as committed')

    // Changed since: left.
    const changed = project(box, 'changed')
    assert.equal((await box.run(['setup', 'mcp', 'docs', 'st', '--project', ...url], { cwd: changed })).code, 0)
    const edited = readFileSync(join(changed, '.mcp.json'), 'utf8').replace('"type": "http"', '"type": "http", "timeout": 5')
    writeFileSync(join(changed, '.mcp.json'), edited)
    const left = await box.run(['setup', 'mcp', '--undo'])
    assert.match(left.stderr, /left .*\/changed\/\.mcp\.json as it is: it has changed since ccred wrote it/)
    assert.equal(readFileSync(join(changed, '.mcp.json'), 'utf8'), edited)
  })

  it('--undo of a committed .mcp.json that ccred changed (not committed since) restores it byte for byte', async () => {
    const box = sandbox()
    const dir = project(box)
    git(dir, 'init', '-q')
    const original = '{"mcpServers": {"docs": {"type": "http", "url": "https://docs.example.com/mcp"}}}\n'
    writeFileSync(join(dir, '.mcp.json'), original)
    git(dir, 'add', '.mcp.json')
    git(dir, 'commit', '-q', '-m', 'docs server')
    const done = await box.run(['setup', 'mcp', 'docs', 'st', '--project'], { cwd: dir })
    assert.equal(done.code, 0, done.stderr)
    assert.equal(patched(box, original, printedDiff(done.stdout)), readFileSync(join(dir, '.mcp.json'), 'utf8'), 'a file in another layout is rewritten whole, and the diff says so')
    const undone = await box.run(['setup', 'mcp', '--undo'])
    assert.match(undone.stdout, /restored .*\.mcp\.json to exactly what it was/)
    assert.equal(readFileSync(join(dir, '.mcp.json'), 'utf8'), original)
    assert.equal(git(dir, 'status', '--porcelain'), '')
  })
})

/** Whether `systemctl --user` reaches a user manager here (then the failing case cannot be shown). */
function userManagerAnswers(): boolean {
  const probe = spawnSync('systemctl', ['--user', 'show-environment'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

describe('ccred daemon install where no service manager answers', () => {
  it('fails with a coded error and a hint, writes nothing, and leaves the running daemon alone', { skip: process.platform !== 'linux' ? 'the systemd case' : userManagerAnswers() ? 'a systemd user manager answers here' : false }, async () => {
    const box = sandbox()
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const daemonPid = box.daemonPid()
    assert.ok(daemonPid !== undefined)
    const installed = await box.run(['daemon', 'install'])
    assert.equal(installed.code, 11, installed.stderr)
    assert.match(installed.stderr, /^ccred: cannot install the ccred systemd service: the systemd user manager \(systemctl --user\) is not reachable \(.+\); nothing was written and the running daemon was left alone \[ERR_DAEMON\]/m)
    assert.match(installed.stderr, /loginctl enable-linger/)
    assert.equal(installed.stdout, '')
    assert.ok(!existsSync(join(box.home, '.config', 'systemd', 'user', 'ccred.service')))
    const status = await box.run(['daemon', 'status', '--json'])
    assert.equal(status.code, 0, status.stdout)
    assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, daemonPid, 'the same daemon still answers')
    assert.equal((await box.run(['get', 'demo'])).code, 0)
  })
})

