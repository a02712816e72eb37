// ccred setup mcp, setup claude --otel / --aws-auth-refresh, and doctor's hook checks, as a
// user runs them: the real CLI in a sandbox, Claude Code's files on disk, helpers run by sh.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { helperTtlFor } from '../../src/setup/lifetime.js'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const sandboxes = sandboxesCleanedUpAfterAll()

function sandbox(): Sandbox {
  const box = new Sandbox({ MCP_CORP_TOKEN: 'corp-canary-4411' })
  sandboxes.push(box)
  box.writeConfig(`
[profiles.mcp-corp]
source = "static"
value = "env:MCP_CORP_TOKEN"
headers = { "X-Api-Key" = "\${token}", Authorization = "Bearer \${token}" }

[profiles.otel]
source = "demo"
lifetime = "10m"

[profiles.sso]
source = "oidc"
[profiles.sso.oidc]
issuer = "https://login.example.com"
client_id = "ccred"
`)
  return box
}

const claudeJson = (box: Sandbox) => join(box.home, '.claude.json')
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>

describe('ccred setup mcp', () => {
  it('writes the headersHelper of a user-scope server, keeps everything else, and --undo restores the file', async () => {
    const box = sandbox()
    const original = `${JSON.stringify({ numStartups: 7, mcpServers: { corp: { type: 'http', url: 'https://mcp.example.com/mcp', headers: { 'x-api-key': 'static' } }, local: { command: 'npx', args: ['srv'] } } }, null, 2)}\n`
    writeFileSync(claudeJson(box), original)

    const dry = await box.run(['setup', 'mcp', 'corp', 'mcp-corp', '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /would change .*\.claude\.json:\n {2}@@ -9 \+9,2 @@\n {2}- {6}\}\n {2}\+ {6}\},\n {2}\+ {6}"headersHelper": "'.+node' '.+ccred\.cjs' get mcp-corp --format headers"\n/)
    assert.match(dry.stderr, /static header "x-api-key" and ccred's "X-Api-Key" differ only in case/)
    assert.equal(readFileSync(claudeJson(box), 'utf8'), original)

    const done = await box.run(['setup', 'mcp', 'corp', 'mcp-corp'])
    assert.equal(done.code, 0, done.stderr)
    const written = readJson(claudeJson(box))
    assert.equal(written.numStartups, 7)
    assert.deepEqual(written.mcpServers.local, { command: 'npx', args: ['srv'] })
    assert.equal(written.mcpServers.corp.url, 'https://mcp.example.com/mcp')
    assert.deepEqual(written.mcpServers.corp.headers, { 'x-api-key': 'static' })
    const helper = written.mcpServers.corp.headersHelper as string
    assert.match(helper, /^'\/.+' '\/.+\/dist\/cmd\/ccred\.cjs' get mcp-corp --format headers$/, 'absolute paths')

    // The command runs as Claude Code runs it and prints what Claude Code parses.
    const printed = await box.run(['get', 'mcp-corp', '--format', 'headers'], { env: { CLAUDE_CODE_MCP_SERVER_NAME: 'corp' } })
    assert.equal(printed.code, 0, printed.stderr)
    assert.equal(printed.stdout, '{"X-Api-Key":"corp-canary-4411","Authorization":"Bearer corp-canary-4411"}\n')

    // Claude Code rewrites ~/.claude.json all the time: undo removes only what ccred wrote.
    writeFileSync(claudeJson(box), JSON.stringify({ ...readJson(claudeJson(box)), numStartups: 8 }, null, 2))
    const undone = await box.run(['setup', 'mcp', '--undo'])
    assert.equal(undone.code, 0, undone.stderr)
    const restored = readJson(claudeJson(box))
    assert.equal(restored.numStartups, 8)
    assert.deepEqual(restored.mcpServers.corp, { type: 'http', url: 'https://mcp.example.com/mcp', headers: { 'x-api-key': 'static' } })
    for (const output of [dry.stdout, dry.stderr, done.stdout, done.stderr]) assert.ok(!output.includes('corp-canary-4411'))
  })

  it('--project creates the server in .mcp.json with --url, and refuses a stdio server or a missing one', async () => {
    const box = sandbox()
    const project = box.file('project')
    mkdirSync(project)
    const missing = await box.run(['setup', 'mcp', 'corp', 'mcp-corp', '--project'], { cwd: project })
    assert.equal(missing.code, 2, missing.stderr)
    assert.match(missing.stderr, /no MCP server named "corp".*\[ERR_USAGE\].*--url/)
    const created = await box.run(['setup', 'mcp', 'corp', 'mcp-corp', '--project', '--url', 'https://mcp.example.com/mcp'], { cwd: project })
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stderr, /without credential-looking variables/)
    const server = readJson(join(project, '.mcp.json')).mcpServers.corp
    assert.equal(server.type, 'http')
    assert.equal(server.url, 'https://mcp.example.com/mcp')
    assert.match(server.headersHelper, /get mcp-corp --format headers$/)
    writeFileSync(join(project, '.mcp.json'), JSON.stringify({ mcpServers: { corp: { command: 'npx' } } }))
    const stdio = await box.run(['setup', 'mcp', 'corp', 'mcp-corp', '--project'], { cwd: project })
    assert.equal(stdio.code, 2)
    assert.match(stdio.stderr, /not a remote server/)
  })
})

describe('ccred setup claude: the other hooks', () => {
  it('--otel alone writes otelHeadersHelper and, with --otel-endpoint, the exporter settings; --aws-auth-refresh wants an oidc profile', async () => {
    const box = sandbox()
    const bare = await box.run(['setup', 'claude', '--otel', 'otel', '--dry-run'])
    assert.equal(bare.code, 0, bare.stderr)
    assert.match(bare.stdout, /^ {2}\+ {2}"otelHeadersHelper": ".+ccred\.cjs' get otel --format headers",?$/m)
    assert.doesNotMatch(bare.stdout, /apiKeyHelper/)
    assert.match(bare.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL is not set/)
    // The demo profile lives 10 min, less than the 29 min debounce: the safe helper TTL of 10 min is set.
    assert.match(bare.stdout, new RegExp(`^ {2}\\+ {4}"CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS": "${helperTtlFor(10 * 60_000, 60_000)}"$`, 'm'))

    const done = await box.run(['setup', 'claude', '--otel', 'otel', '--otel-endpoint', 'https://otel.example.com', '--aws-auth-refresh', 'sso'])
    assert.equal(done.code, 0, done.stderr)
    assert.doesNotMatch(done.stderr, /warning: otelHeadersHelper/)
    const settings = readJson(join(box.home, '.claude', 'settings.json'))
    assert.match(settings.otelHeadersHelper, /get otel --format headers$/)
    assert.match(settings.awsAuthRefresh, /^'\/.+' '\/.+ccred\.cjs' login sso$/)
    assert.equal(settings.env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/json')
    assert.equal(settings.env.OTEL_EXPORTER_OTLP_ENDPOINT, 'https://otel.example.com')
    assert.equal(settings.env.CLAUDE_CODE_ENABLE_TELEMETRY, '1')

    const wrong = await box.run(['setup', 'claude', '--aws-auth-refresh', 'otel'])
    assert.equal(wrong.code, 2)
    assert.match(wrong.stderr, /only a sign-in \(source = "oidc"\) profile.*\[ERR_USAGE\]/)

    const undone = await box.run(['setup', 'claude', '--undo'])
    assert.equal(undone.code, 0, undone.stderr)
  })
})

describe('ccred doctor: hooks', () => {
  it('runs each MCP headersHelper as Claude Code would and says what Claude Code would reject', async () => {
    const box = sandbox()
    const project = box.file('project')
    mkdirSync(project)
    const good = await box.run(['setup', 'mcp', 'corp', 'mcp-corp', '--url', 'https://mcp.example.com/mcp'])
    assert.equal(good.code, 0, good.stderr)
    const config = readJson(claudeJson(box))
    config.mcpServers.corp.headers = { authorization: 'Bearer static' }
    config.mcpServers.broken = { type: 'http', url: 'https://x.example.com/mcp', headersHelper: `${box.writeScript('noisy.sh', '#!/bin/sh\necho "fetching token..."\necho \'{"Authorization": "Bearer x"}\'\n')}` }
    config.mcpServers.failing = { type: 'http', url: 'https://y.example.com/mcp', headersHelper: `${box.writeScript('exit1.sh', '#!/bin/sh\necho \'{"A": "b"}\'\nexit 1\n')}` }
    writeFileSync(claudeJson(box), JSON.stringify(config))
    // A project server whose profile reads a variable Claude Code strips, with no daemon running.
    const helper = config.mcpServers.corp.headersHelper as string
    writeFileSync(join(project, '.mcp.json'), JSON.stringify({ mcpServers: { proj: { type: 'http', url: 'https://z.example.com/mcp', headersHelper: helper } } }))

    const doctor = await box.run(['doctor', '--json'], { cwd: project })
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks
    const find = (name: string) => checks.find((c) => c.check === name)
    assert.equal(find('mcp corp headersHelper')?.verdict, 'ok', doctor.stdout)
    assert.match(find('mcp corp headersHelper')!.detail, /prints 2 header\(s\) \(X-Api-Key, Authorization\)/)
    assert.equal(find('mcp corp header case')?.verdict, 'warn')
    assert.equal(find('mcp broken headersHelper')?.verdict, 'fail')
    assert.match(find('mcp broken headersHelper')!.detail, /not one JSON object/)
    assert.equal(find('mcp failing headersHelper')?.verdict, 'fail')
    assert.match(find('mcp failing headersHelper')!.detail, /exited with status 1/)
    assert.equal(find('mcp proj environment')?.verdict, 'fail', doctor.stdout)
    assert.match(find('mcp proj environment')!.detail, /reads env:MCP_CORP_TOKEN, which Claude Code removes/)
    assert.equal(doctor.code, 13)
    assert.ok(!doctor.stdout.includes('corp-canary-4411'), 'doctor never prints a header value')
  })

  it('otelHeadersHelper: a value that dies inside the debounce fails; the debounce setup writes passes', async () => {
    const box = sandbox()
    const setup = await box.run(['setup', 'claude', '--otel', 'otel', '--otel-endpoint', 'http://127.0.0.1:4318'])
    assert.equal(setup.code, 0, setup.stderr)
    const lifetimeCheck = async () => {
      const doctor = await box.run(['doctor', '--json'])
      const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks
      assert.equal(checks.find((c) => c.check === 'claude otelHeadersHelper')?.verdict, 'ok', doctor.stdout)
      return checks.find((c) => c.check === 'claude otelHeadersHelper lifetime')
    }
    assert.equal((await lifetimeCheck())?.verdict, 'ok', 'the 10-minute demo value outlives the debounce setup sized from it')
    const path = join(box.home, '.claude', 'settings.json')
    const settings = readJson(path)
    delete settings.env.CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS
    writeFileSync(path, JSON.stringify(settings))
    const failing = await lifetimeCheck()
    assert.equal(failing?.verdict, 'fail')
    assert.match(failing!.detail, /reuses otel headers for 29m/)
  })
})
