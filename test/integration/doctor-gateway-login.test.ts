// `ccred doctor` and Claude Code's own sign-in to a Claude apps gateway: while Claude Code holds
// one (`/login`, kept as `enterpriseGateway` in ~/.claude/.credentials.json on Linux) or is told
// to use one (`forceLoginMethod: "gateway"`), it ignores apiKeyHelper. doctor says which
// credential Claude Code will really send, and never prints the saved token.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()

function sandbox(): Sandbox {
  const box = new Sandbox()
  sandboxes.push(box)
  box.writeConfig('[profiles.demo]\nsource = "demo"\nlifetime = "10m"\n')
  return box
}

function writeClaudeFile(box: Sandbox, name: string, value: unknown): void {
  mkdirSync(join(box.home, '.claude'), { recursive: true })
  writeFileSync(join(box.home, '.claude', name), `${JSON.stringify(value, null, 2)}\n`)
}

describe('ccred doctor and a Claude Code gateway sign-in', { skip: process.platform === 'darwin' ? 'Claude Code keeps sign-ins in the macOS keychain' : false }, () => {
  it('with apiKeyHelper only: Claude Code sends the helper value', async () => {
    const box = sandbox()
    const setup = await box.run(['setup', 'claude', 'demo'])
    assert.equal(setup.code, 0)
    assert.doesNotMatch(setup.stderr, /warning/)
    const doctor = await box.run(['doctor', 'demo'])
    assert.equal(doctor.code, 0, doctor.stdout)
    assert.match(doctor.stdout, /^claude credential +ok +Claude Code sends the apiKeyHelper value \(".*get demo"\); no gateway sign-in of its own/m)
  })

  it('forceLoginMethod "gateway" and a saved sign-in: warns that the helper is ignored, names the gateway, never the token', async () => {
    const box = sandbox()
    assert.equal((await box.run(['setup', 'claude', 'demo'])).code, 0)
    const settingsPath = join(box.home, '.claude', 'settings.json')
    const { readFileSync } = await import('node:fs')
    const settings = JSON.parse(readFileSync(settingsPath, 'utf8')) as Record<string, unknown>
    writeClaudeFile(box, 'settings.json', { ...settings, forceLoginMethod: 'gateway' })

    const forcedOnly = await box.run(['doctor', 'demo'])
    assert.equal(forcedOnly.code, 0, 'a warning, not a failure: Claude Code still works')
    assert.match(forcedOnly.stdout, /^claude login method +WARN +forceLoginMethod "gateway" \(user settings\): Claude Code signs in to the gateway itself with \/login and, while signed in, ignores apiKeyHelper/m)
    assert.match(forcedOnly.stdout, /^claude credential +WARN +Claude Code sends ".*get demo" only until someone signs in with \/login/m)
    const forcedSetup = await box.run(['setup', 'claude', 'demo'])
    assert.match(forcedSetup.stderr, /warning: forceLoginMethod "gateway" is set: once someone signs in with \/login, Claude Code ignores apiKeyHelper/)

    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJjbGF1ZGUtZ2F0ZXdheSJ9.canary-gateway-signature'
    writeClaudeFile(box, '.credentials.json', { enterpriseGateway: { url: 'https://gateway.corp.example/some/path?x=1', jwt, refreshToken: 'canary-refresh', expiresAt: Date.now() + 30 * 60_000 } })
    const signedIn = await box.run(['doctor', 'demo'])
    assert.equal(signedIn.code, 0)
    assert.match(signedIn.stdout, /^claude gateway sign-in +WARN +Claude Code holds its own sign-in to https:\/\/gateway\.corp\.example \(.*\.credentials\.json, token expires in \d+m\d*s?\): requests use it, not apiKeyHelper; run \/logout in Claude Code/m)
    assert.match(signedIn.stdout, /^claude credential +WARN +Claude Code sends its own gateway sign-in, not ".*get demo"/m)
    for (const secret of [jwt, 'canary-refresh', 'canary-gateway-signature', 'some/path']) assert.ok(!signedIn.stdout.includes(secret), `doctor never prints ${secret}`)
    const json = JSON.parse((await box.run(['doctor', 'demo', '--json'])).stdout) as { checks: { check: string; verdict: string }[] }
    assert.deepEqual(json.checks.filter((c) => c.check.startsWith('claude credential')).map((c) => c.verdict), ['warn'])

    // setup claude says the same when it writes an apiKeyHelper Claude Code will not use.
    const again = await box.run(['setup', 'claude', 'demo'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /warning: Claude Code holds its own sign-in to https:\/\/gateway\.corp\.example and ignores apiKeyHelper while it does; run \/logout in Claude Code/)
    assert.ok(!again.stderr.includes(jwt))
  })
})
