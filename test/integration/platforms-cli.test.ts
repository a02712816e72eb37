import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { loginService } from '../../src/setup/service-install.js'
import { platformFor } from '../../src/platform.js'

/** The platform rules that show at the CLI and run on Linux (the rest: test/unit/platforms.test.ts). */
const sandboxes = sandboxesCleanedUpAfterAll()

describe('ccred env --shell (real CLI)', () => {
  it('prints PowerShell and cmd syntax, refuses an unknown shell before fetching, and never prints a value cmd would expand', async () => {
    const box = new Sandbox({ GW: "it's-a-secret", PCT: 'sec%PATH%ret' })
    sandboxes.push(box)
    box.writeConfig(`
[profiles.gw]
source = "static"
value = "env:GW"

[profiles.pct]
source = "static"
value = "env:PCT"
`)
    assert.equal((await box.run(['env', 'gw', '--shell', 'powershell'])).stdout, "$env:ANTHROPIC_AUTH_TOKEN = 'it''s-a-secret'\n")
    assert.equal((await box.run(['env', 'gw', '--shell', 'posix'])).stdout, "export ANTHROPIC_AUTH_TOKEN='it'\\''s-a-secret'\n")
    assert.equal((await box.run(['env', 'gw', '--shell', 'cmd'])).stdout, 'set "ANTHROPIC_AUTH_TOKEN=it\'s-a-secret"\n')
    const refused = await box.run(['env', 'pct', '--shell', 'cmd'])
    assert.notEqual(refused.code, 0)
    assert.equal(refused.stdout, '')
    assert.match(refused.stderr, /ANTHROPIC_AUTH_TOKEN contains a percent sign \(%\), which cmd expands; cmd cannot take it literally \[ERR_USAGE\]/)
    assert.ok(!refused.stderr.includes('sec%PATH%ret'), 'the value is not in the message')
    const unknown = await box.run(['env', 'gw', '--shell', 'fish'])
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /--shell must be one of posix, powershell, cmd.*\[ERR_USAGE\]/)
  })
})

describe('ccred status: which login started the daemon (real daemon)', () => {
  it('a daemon autostarted over SSH says so in status, with what that session can and cannot do; a local one says local', async () => {
    const box = new Sandbox()
    sandboxes.push(box)
    box.writeConfig('[profiles.demo]\nsource = "demo"\nlifetime = "10m"\n')
    assert.equal((await box.run(['get', 'demo'], { env: { SSH_CONNECTION: '192.0.2.7 52000 192.0.2.1 22' } })).code, 0)
    const overSsh = await box.run(['status'])
    assert.match(overSsh.stdout, /^ {9}started from an SSH session: over SSH the Secret Service needs a session bus/m, overSsh.stdout)
    assert.equal(JSON.parse((await box.run(['status', '--json'])).stdout).daemon.session, 'ssh')
    assert.equal((await box.run(['daemon', 'stop'])).code, 0)
    assert.equal((await box.run(['get', 'demo'], { env: { SSH_CONNECTION: undefined, SSH_CLIENT: undefined, SSH_TTY: undefined } })).code, 0)
    assert.match((await box.run(['status'])).stdout, /^ {9}started from a local session$/m)
  })
})

describe('ccred doctor: what a login service\'s environment lacks (real CLI)', () => {
  it('warns for each env: reference the installed service does not pass, names the profiles and the way out', async () => {
    const box = new Sandbox()
    sandboxes.push(box)
    box.writeConfig('[profiles.corp]\nsource = "static"\nvalue = "env:CORP_KEY"\n\n[profiles.demo]\nsource = "demo"\nlifetime = "10m"\n')
    const before = await box.run(['doctor'], { env: { CORP_KEY: 'sk-x' } })
    assert.doesNotMatch(before.stdout, /systemd environment/, 'no service installed: nothing to say')
    const service = loginService(platformFor('linux', box.env), { kind: 'npm', nodePath: process.execPath, binPath: '/opt/ccred/ccred.cjs' }, 0)!
    mkdirSync(dirname(service.path), { recursive: true })
    writeFileSync(service.path, service.text)
    const doctor = await box.run(['doctor'], { env: { CORP_KEY: 'sk-x' } })
    assert.match(doctor.stdout, /^systemd environment +WARN +.*ccred\.service starts the daemon without CORP_KEY \(env:CORP_KEY in corp\): a login service gets none of your shell's variables; use keychain: or file: for it/m, doctor.stdout)
  })
})

describe('ccred doctor: the helper\'s programs (real CLI)', () => {
  it('fails when the node the helper command names is gone (brew upgrade, an nvm switch), and passes after setup again', async () => {
    const box = new Sandbox()
    sandboxes.push(box)
    box.writeConfig(`
[profiles.demo]
source = "demo"
lifetime = "10m"
`)
    assert.equal((await box.run(['setup', 'claude', 'demo'])).code, 0)
    const settingsPath = join(box.home, '.claude', 'settings.json')
    const settings = JSON.parse(readFileSync(settingsPath, 'utf8')) as { apiKeyHelper: string }
    assert.match(settings.apiKeyHelper, /^'[^']+' '[^']+ccred\.cjs' get demo$/)
    const gone = '/opt/homebrew/Cellar/node/23.1.0/bin/node'
    writeFileSync(settingsPath, JSON.stringify({ ...settings, apiKeyHelper: settings.apiKeyHelper.replace(/^'[^']+'/, `'${gone}'`) }))
    const doctor = await box.run(['doctor'])
    assert.equal(doctor.code, 13, doctor.stdout)
    assert.match(doctor.stdout, new RegExp(`^claude apiKeyHelper program +FAIL +${gone} does not exist \\(node upgraded or moved\\?\\): run ccred setup claude demo$`, 'm'))
    // nvm keeps no stable node: doctor warns ahead of the switch, with the exact command.
    const nvmNode = join(box.home, '.nvm', 'versions', 'node', 'v22.11.0', 'bin', 'node')
    mkdirSync(dirname(nvmNode), { recursive: true })
    writeFileSync(nvmNode, '')
    writeFileSync(settingsPath, JSON.stringify({ ...settings, apiKeyHelper: settings.apiKeyHelper.replace(/^'[^']+'/, `'${nvmNode}'`) }))
    const warned = await box.run(['doctor'])
    assert.match(warned.stdout, /^claude apiKeyHelper program +WARN +the helper names one nvm node version \(nvm keeps no stable node path\): after switching or uninstalling it, run ccred setup claude demo$/m)
    assert.equal((await box.run(['setup', 'claude', 'demo'])).code, 0)
    assert.doesNotMatch((await box.run(['doctor'])).stdout, /program +FAIL/)
  })
})
