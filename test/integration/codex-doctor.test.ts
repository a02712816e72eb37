// `ccred doctor` for Codex through the real CLI: each hook that runs ccred is run the way
// Codex runs it, and the config is checked for what Codex refuses or mis-times.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EXIT_CODES } from '../../src/errors.js'
import { helperTtlFor } from '../../src/setup/lifetime.js'
import { sandboxWithGatewayProfile } from '../helpers/codex.js'
import { describeResult, Sandbox } from '../helpers/sandbox.js'

const sandboxes: Sandbox[] = []
after(async () => { for (const box of sandboxes) await box.cleanup() })


interface Row { check: string; verdict: 'ok' | 'warn' | 'fail'; detail: string }

async function world(): Promise<Sandbox> {
  const box = new Sandbox()
  sandboxes.push(box)
  await sandboxWithGatewayProfile(box)
  mkdirSync(join(box.home, '.codex'), { recursive: true, mode: 0o700 })
  return box
}

async function codexRows(box: Sandbox): Promise<{ code: number | null; rows: Row[] }> {
  const doctor = await box.run(['doctor', '--json'])
  const parsed = JSON.parse(doctor.stdout) as { checks: Row[] }
  return { code: doctor.code, rows: parsed.checks.filter((row) => row.check.startsWith('codex')) }
}

describe('ccred doctor for Codex', () => {
  it('what ccred setup codex wrote passes: the provider run without a shell, the MCP helper with Codex\'s allow-listed environment, the OTel script, both intervals', async () => {
    const box = await world()
    const setup = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1', '--mcp', 'corp', '--mcp-url', 'https://mcp.example.com/mcp', '--otel'])
    assert.equal(setup.code, 0, describeResult(setup))
    const { rows } = await codexRows(box)
    assert.deepEqual(rows.map((row) => [row.check, row.verdict]), [
      ['codex provider gw', 'ok'],
      ['codex provider gw refresh_interval_ms', 'ok'],
      ['codex mcp corp', 'ok'],
      ['codex otel', 'ok'],
      ['codex otel headers_helper_refresh_interval_ms', 'ok'],
      ['codex config', 'ok'],
    ], JSON.stringify(rows, null, 2))
    assert.match(rows[2]!.detail, /through sh -c with Codex's allow-listed environment .*: Authorization in \d+ ms/)
    const safeMs = helperTtlFor(15 * 60_000, 60_000)
    assert.match(rows[1]!.detail, new RegExp(`^refresh_interval_ms = ${safeMs} is within the largest safe interval ${safeMs}`))
  })

  it('fails what Codex would refuse or break on, each with the command that fixes it', async () => {
    const box = await world()
    const node = JSON.stringify(process.execPath)
    const cli = JSON.stringify(box.cliPath)
    writeFileSync(join(box.home, '.codex', 'config.toml'), `
[model_providers.oneline]
name = "one string"
base_url = "https://llm.example.com/v1"
auth = { command = "ccred get gw" }

[model_providers.combined]
name = "combined"
base_url = "https://llm.example.com/v1"
env_key = "GW_KEY"
auth = { command = ${node}, args = [${cli}, "get", "gw"], refresh_interval_ms = 60000 }

[model_providers.long]
name = "long"
base_url = "https://llm.example.com/v1"
auth = { command = ${node}, args = [${cli}, "get", "gw"], refresh_interval_ms = 3600000 }

[model_providers.never]
name = "never"
base_url = "https://llm.example.com/v1"
auth = { command = ${node}, args = [${cli}, "get", "gw"], refresh_interval_ms = 0 }

[model_providers.unrelated]
name = "not ccred's"
base_url = "https://other.example.com/v1"
env_key = "OTHER"
`)
    const { code, rows } = await codexRows(box)
    assert.equal(code, EXIT_CODES.DOCTOR_FOUND_PROBLEMS)
    const verdict = (check: string) => rows.filter((row) => row.check === check).map((row) => row.verdict)
    assert.deepEqual(verdict('codex provider oneline'), ['fail'])
    assert.match(rows.find((row) => row.check === 'codex provider oneline')!.detail, /without a shell, so a command line in one string fails to start — use command = "<ccred>", args = \["get", "gw"\]/)
    assert.deepEqual(verdict('codex provider combined'), ['fail', 'ok'], 'refused key, then the run itself works')
    assert.match(rows.find((row) => row.check === 'codex provider combined')!.detail, /sets env_key beside auth: .*— run: ccred setup codex gw --provider combined --fix$/)
    assert.deepEqual(verdict('codex provider long refresh_interval_ms'), ['fail'])
    assert.match(rows.find((row) => row.check === 'codex provider long refresh_interval_ms')!.detail, new RegExp(`set refresh_interval_ms = ${helperTtlFor(15 * 60_000, 60_000)} \\(ccred setup codex gw writes it\\)$`))
    assert.deepEqual(verdict('codex provider never refresh_interval_ms'), ['warn'])
    assert.deepEqual(verdict('codex provider unrelated'), [], 'a provider that does not run ccred is not ccred\'s to judge')
  })

  it('says nothing about Codex when there is no Codex config', async () => {
    const box = await world()
    const { rows } = await codexRows(box)
    assert.deepEqual(rows, [])
  })
})
