import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Sandbox } from '../helpers/sandbox.js'

/** The platform rules that show at the CLI and run on Linux (the rest: test/unit/platforms.test.ts). */
const sandboxes: Sandbox[] = []
after(async () => {
  await Promise.all(sandboxes.map((box) => box.cleanup()))
})

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
    assert.match(refused.stderr, /ANTHROPIC_AUTH_TOKEN contains a "%", which cmd cannot take literally \[ERR_USAGE\]/)
    assert.ok(!refused.stderr.includes('sec%PATH%ret'), 'the value is not in the message')
    const unknown = await box.run(['env', 'gw', '--shell', 'fish'])
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /--shell must be one of posix, powershell, cmd.*\[ERR_USAGE\]/)
  })
})
