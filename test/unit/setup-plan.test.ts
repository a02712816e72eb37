// The one plan/apply/undo of src/setup/file-plan.ts with a second, line-oriented format
// (the shape a comment-keeping TOML adapter takes), the diff's secret hiding, and the
// order in which `daemon install` talks to the service manager.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { platformFor } from '../../src/platform.js'
import { jsonFormat, type DocumentFormat, type SettingKey } from '../../src/setup/document-format.js'
import { applyPlans, describeDiff, planEdit, undoRecorded } from '../../src/setup/file-plan.js'
import { readForEdit } from '../../src/setup/settings-file.js'
import { installLoginService, loginService, type CommandResult } from '../../src/setup/service-install.js'

const dirs: string[] = []
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }) })
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccred-plan-'))
  dirs.push(dir)
  return dir
}

/**
 * `key = "value"` lines under `[table]` headers, everything else (comments, blank lines)
 * kept as it is: edits replace, append or drop single lines, as a TOML adapter that
 * keeps comments and order would.
 */
type Lines = string[]
const lineFormat: DocumentFormat<Lines> = {
  name: 'lines',
  parse: (text) => (text === '' ? [] : text.replace(/\n$/, '').split('\n')),
  get(doc, key) {
    const [table, name] = key.length === 2 ? key : ['', key[0]]
    let current = ''
    for (const line of doc) {
      const header = /^\[(.+)\]$/.exec(line)
      if (header !== null) current = header[1]!
      const pair = /^(\w+) = "(.*)"$/.exec(line)
      if (pair !== null && current === table && pair[1] === name) return pair[2]
    }
    return undefined
  },
  with(doc, key, value) {
    const [table, name] = key.length === 2 ? key : ['', key[0]]
    const next = [...doc]
    let current = ''
    let tableEnd = table === '' ? next.findIndex((line) => line.startsWith('[')) : -1
    for (let i = 0; i < next.length; i++) {
      const header = /^\[(.+)\]$/.exec(next[i]!)
      if (header !== null) {
        if (current === table && table !== '') tableEnd = i
        current = header[1]!
      }
      const pair = /^(\w+) = "(.*)"$/.exec(next[i]!)
      if (pair !== null && current === table && pair[1] === name) {
        if (value === undefined) next.splice(i, 1)
        else next[i] = `${name} = "${String(value)}"`
        return next
      }
    }
    if (value === undefined) return next
    if (current === table && table !== '') tableEnd = next.length
    if (tableEnd === -1 && table !== '') {
      next.push(`[${table}]`)
      tableEnd = next.length
    }
    next.splice(tableEnd === -1 ? next.length : tableEnd, 0, `${name} = "${String(value)}"`)
    return next
  },
  serialize: (doc) => (doc.length === 0 ? '' : `${doc.join('\n')}\n`),
  hideValues: (line, secret) => line.replace(/^(\w+) = ".*"$/, (whole, name: string) => (secret(name) ? `${name} = <hidden>` : whole)),
}

describe('file-plan: one plan, apply and undo for any format', () => {
  it('a line-oriented format keeps its comments and order; the diff is of the text written; undo restores the bytes', () => {
    const dir = tempDir()
    const path = join(dir, 'config.toml')
    const original = '# my agent config\nmodel = "o3"\n\n[env]\n# keep this comment\nOPENAI_API_KEY = "sk-canary-31337"\nFOO = "bar"\n'
    writeFileSync(path, original, { mode: 0o600 })
    const file = readForEdit(path, { maxBytes: 1 << 20 })
    const wanted: [SettingKey, unknown][] = [[['helper'], "ccred get corp"], [['env', 'OPENAI_API_KEY'], undefined], [['env', 'CCRED'], '1']]
    const plan = planEdit(file, lineFormat, lineFormat.parse(file.text, path), wanted, { scope: 'user' })
    assert.equal(plan.text, '# my agent config\nmodel = "o3"\n\nhelper = "ccred get corp"\n[env]\n# keep this comment\nFOO = "bar"\nCCRED = "1"\n')
    assert.deepEqual(describeDiff(plan), [
      '@@ -3,0 +4 @@',
      '+helper = "ccred get corp"',
      '@@ -6 +6,0 @@',
      '-OPENAI_API_KEY = <hidden>',
      '@@ -7,0 +8 @@',
      '+CCRED = "1"',
    ])
    const record = { ledgerPath: join(dir, 'state', 'record.json'), backupDir: join(dir, 'state', 'backups') }
    applyPlans([plan], 'corp', record, new Date(0))
    assert.equal(readFileSync(path, 'utf8'), plan.text)
    // Windows has no mode bits (node reports 0o666 for any writable file).
    if (process.platform !== 'win32') assert.equal(statSync(path).mode & 0o777, 0o600, 'the file keeps its mode')
    const backups = readdirSync(record.backupDir)
    assert.equal(readFileSync(join(record.backupDir, backups[0]!), 'utf8'), original)
    assert.ok(!readFileSync(record.ledgerPath, 'utf8').includes('sk-canary-31337'), 'a removed secret is kept only in the backup')
  })

  it('a JSON line holding a whole table hides a credential-looking value wherever it is on the line', () => {
    const dir = tempDir()
    const path = join(dir, 'settings.json')
    writeFileSync(path, '{"env": {"ANTHROPIC_AUTH_TOKEN": "tok-canary-9", "X": "1"}, "headers": {"Authorization": "Bearer b-canary-7"}}\n')
    const file = readForEdit(path, { maxBytes: 1 << 20 })
    const plan = planEdit(file, jsonFormat, jsonFormat.parse(file.text, path), [[['apiKeyHelper'], 'ccred get x']], { scope: 'user' })
    const diff = describeDiff(plan).join('\n')
    assert.match(diff, /^-\{"env": \{"ANTHROPIC_AUTH_TOKEN": <hidden>, "X": "1"\}, "headers": \{"Authorization": <hidden>\}\}$/m)
    assert.match(diff, /^\+ {4}"ANTHROPIC_AUTH_TOKEN": <hidden>,$/m)
    assert.match(diff, /^\+ {2}"apiKeyHelper": "ccred get x"$/m)
    assert.doesNotMatch(diff, /canary/)
  })

  it('undo of a file whose record is gone is nothing; a second apply keeps the first backup', () => {
    const dir = tempDir()
    const path = join(dir, 'settings.json')
    writeFileSync(path, '{}\n')
    const record = { ledgerPath: join(dir, 'state', 'record.json'), backupDir: join(dir, 'state', 'backups') }
    assert.deepEqual(undoRecorded(record.ledgerPath, false), [])
    for (const value of ['a', 'b']) {
      const file = readForEdit(path, { maxBytes: 1 << 20 })
      applyPlans([planEdit(file, jsonFormat, jsonFormat.parse(file.text, path), [[['k'], value]], { scope: 'user' })], 'p', record, new Date(0))
    }
    assert.equal(readdirSync(record.backupDir).length, 1)
    const [result] = undoRecorded(record.ledgerPath, false)
    assert.equal(result?.original, true)
    assert.equal(readFileSync(path, 'utf8'), '{}\n')
  })
})

describe('daemon install talks to the service manager in a safe order', () => {
  function recorder(fail: (command: string[]) => string | undefined) {
    const calls: string[] = []
    return {
      calls,
      run: (command: string[]): CommandResult => {
        calls.push(command.join(' '))
        const why = fail(command)
        return why === undefined ? { ok: true } : { ok: false, why }
      },
      stopAutostartedDaemon: async () => { calls.push('stop autostarted daemon') },
      notice: () => {},
    }
  }

  it('no user manager: ERR_DAEMON before anything is written or stopped', async () => {
    const dir = tempDir()
    const service = loginService(platformFor('linux', { HOME: dir }), { kind: 'npm', nodePath: '/usr/bin/node', binPath: '/opt/ccred.cjs' }, 1000)!
    const deps = recorder((command) => (command.includes('show-environment') ? 'Failed to connect to bus: No medium found' : undefined))
    await assert.rejects(installLoginService(service, deps), (error: Error & { code?: string }) => error.code === 'ERR_DAEMON' && /not reachable \(Failed to connect to bus/.test(error.message))
    assert.deepEqual(deps.calls, ['systemctl --user show-environment'])
    assert.throws(() => statSync(service.path), /ENOENT/)
  })

  it('systemd: daemon-reload failing leaves the daemon; the daemon is stopped only right before enable --now', async () => {
    const dir = tempDir()
    const service = loginService(platformFor('linux', { HOME: dir }), { kind: 'npm', nodePath: '/usr/bin/node', binPath: '/opt/ccred.cjs' }, 1000)!
    const failing = recorder((command) => (command.includes('daemon-reload') ? 'boom' : undefined))
    await assert.rejects(installLoginService(service, failing), /daemon-reload did not succeed \(boom\); the running daemon was left alone/)
    assert.ok(!failing.calls.includes('stop autostarted daemon'))
    const working = recorder(() => undefined)
    assert.deepEqual(await installLoginService(service, working), { started: true })
    assert.deepEqual(working.calls, ['systemctl --user show-environment', 'systemctl --user daemon-reload', 'stop autostarted daemon', 'systemctl --user enable --now ccred.service'])
  })

  it('launchd: probe the GUI domain, boot out an old agent, stop the autostarted daemon, bootstrap', async () => {
    const dir = tempDir()
    const service = loginService(platformFor('darwin', { HOME: dir }), { kind: 'npm', nodePath: '/usr/local/bin/node', binPath: '/opt/ccred.cjs' }, 501)!
    const deps = recorder((command) => (command[1] === 'bootout' ? 'No such process' : undefined))
    await installLoginService(service, deps)
    assert.deepEqual(deps.calls, ['launchctl print gui/501', 'launchctl bootout gui/501/dev.ccred.daemon', 'stop autostarted daemon', `launchctl bootstrap gui/501 ${service.path}`])
  })
})
