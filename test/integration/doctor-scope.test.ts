// `ccred doctor` without a profile checks strictly what a hook names (Claude Code's settings,
// its MCP servers, Codex's config) and lists every other profile as information: a demo, a
// two-minute test profile or a signed-out one breaks no agent and fails no run.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Sandbox } from '../helpers/sandbox.js'

interface Row { check: string; verdict: string; detail: string }

const boxes: Sandbox[] = []
after(async () => { for (const box of boxes) await box.cleanup() })

/** gw (static, never expires), short (lives 2 minutes), signedout (its secret is missing), and an MCP profile. */
function world(): Sandbox {
  // No keychain at all: only the unused profile "locked" reads one.
  const box = new Sandbox({ GW_KEY: 'sk-gw-3f9a1c', MCP_VALUE: 'mcp-value-77b2', CCRED_KEYCHAIN_BACKEND: 'none' })
  boxes.push(box)
  const script = box.writeScript('short.sh', '#!/bin/sh\necho short-lived-token-0c41\n')
  box.writeConfig(`
[profiles.gw]
source = "static"
value = "env:GW_KEY"

[profiles.mcp]
source = "static"
value = "env:MCP_VALUE"

[profiles.short]
source = "exec"
command = ["${script}"]
lifetime = "2m"

[profiles.signedout]
source = "static"
value = "env:SIGNED_OUT_NEVER_SET"

[profiles.locked]
source = "static"
value = "keychain:never-stored"
`)
  return box
}

function ccred(box: Sandbox, args: string): string {
  return `'${process.execPath}' '${box.cliPath}' ${args}`
}

function writeUserSettings(box: Sandbox, settings: object): void {
  mkdirSync(join(box.home, '.claude'), { recursive: true })
  writeFileSync(join(box.home, '.claude', 'settings.json'), JSON.stringify(settings))
}

async function doctor(box: Sandbox, args: string[] = []): Promise<{ code: number | null; rows: Row[]; text: string }> {
  const run = await box.run(['doctor', '--json', ...args])
  return { code: run.code, rows: (JSON.parse(run.stdout) as { checks: Row[] }).checks, text: run.stdout + run.stderr }
}

const row = (rows: Row[], check: string) => rows.find((r) => r.check === check)

describe('ccred doctor: strict for what hooks use, information for the rest', () => {
  it('profiles no hook names are information, never failures: exit 0 with a short-lived and a signed-out profile', async () => {
    const box = world()
    writeUserSettings(box, { apiKeyHelper: ccred(box, 'get gw'), env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } })
    writeFileSync(join(box.home, '.claude.json'), JSON.stringify({ mcpServers: { docs: { type: 'http', url: 'http://127.0.0.1:9/mcp', headersHelper: ccred(box, 'get mcp --format headers') } } }))
    const { code, rows, text } = await doctor(box)
    assert.equal(code, 0, text)
    assert.deepEqual(rows.filter((r) => r.verdict === 'fail'), [])
    assert.deepEqual(row(rows, 'profile gw'), { check: 'profile gw', verdict: 'ok', detail: 'static: opaque token, 12 chars, never expires; used by claude apiKeyHelper' })
    assert.deepEqual(row(rows, 'profile mcp'), { check: 'profile mcp', verdict: 'ok', detail: 'static: opaque token, 14 chars, never expires; used by mcp docs headersHelper (user)' })
    assert.deepEqual(row(rows, 'profile short'), { check: 'profile short', verdict: 'info', detail: 'not used by any hook; exec: fetch ok, lives 2m (check it against a hook: ccred doctor short)' })
    assert.equal(row(rows, 'profile short lifetime'), undefined, 'no TTL verdict for a profile no hook uses')
    assert.equal(row(rows, 'profile signedout')?.verdict, 'info')
    assert.match(row(rows, 'profile signedout')!.detail, /^not used by any hook; static: fetch failed: \[ERR_[A-Z_]+\] /)
    assert.equal(row(rows, 'secret store')?.verdict, 'warn')
    assert.match(row(rows, 'secret store')!.detail, /\(locked read keychain: references; no hook uses them\)/)
    const table = await box.run(['doctor'])
    assert.match(table.stdout, /^profile short +info +not used by any hook;/m)
    assert.match(table.stdout, /^no problems/m)
  })

  it('a hook that names the short-lived profile makes it strict against that hook\'s TTL; so does a Codex provider for the signed-out one: exit 13', async () => {
    const box = world()
    writeUserSettings(box, { apiKeyHelper: ccred(box, 'get short'), env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } })
    mkdirSync(join(box.home, '.codex'), { recursive: true, mode: 0o700 })
    writeFileSync(join(box.home, '.codex', 'config.toml'), `[model_providers.corp]\nname = "corp"\nbase_url = "http://127.0.0.1:9/v1"\n[model_providers.corp.auth]\ncommand = "${process.execPath}"\nargs = ["${box.cliPath}", "get", "signedout"]\n`)
    const { code, rows, text } = await doctor(box)
    assert.equal(code, 13, text)
    assert.deepEqual(row(rows, 'profile short lifetime'), {
      check: 'profile short lifetime',
      verdict: 'fail',
      detail: "credentials live 2m: the helper TTL 5m (Claude Code's default) exceeds the largest safe TTL 18s (skew 1m); set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=18000 (ccred setup claude short writes it) or lengthen the credential's lifetime",
    })
    assert.equal(row(rows, 'profile signedout')?.verdict, 'fail')
    assert.match(row(rows, 'profile signedout')!.detail, /^\[ERR_[A-Z_]+\] /)
    assert.equal(row(rows, 'profile gw')?.verdict, 'info', 'gw is no hook\'s now')
  })

  it('a profile named on the command line is checked strictly, hook or not', async () => {
    const box = world()
    const { code, rows, text } = await doctor(box, ['short'])
    assert.equal(code, 13, text)
    assert.equal(row(rows, 'profile short')?.verdict, 'ok')
    assert.equal(row(rows, 'profile short lifetime')?.verdict, 'fail')
    assert.equal(row(rows, 'profile gw'), undefined)
  })
})
