// `ccred setup codex` through the real CLI: what it writes into a user's hand-written
// config.toml, what it refuses, the diff it shows, and its undo.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { parse } from 'smol-toml'
import { EXIT_CODES } from '../../src/errors.js'
import { helperTtlFor } from '../../src/setup/lifetime.js'
import { sandboxWithGatewayProfile } from '../helpers/codex.js'
import { describeResult, Sandbox } from '../helpers/sandbox.js'

const sandboxes: Sandbox[] = []
after(async () => { for (const box of sandboxes) await box.cleanup() })


const USER_CODEX_CONFIG = `# my Codex config: hand-written, comments kept
model = "gpt-5"   # the default model

[model_providers.other]
name = "Other"    # not ccred's
base_url = "https://other.example.com/v1"
env_key = "OTHER_KEY"

[mcp_servers.docs]
command = "docs-mcp"
args = ["--port", "8080"]
`

async function world(codexConfig: string | null = USER_CODEX_CONFIG): Promise<{ box: Sandbox; codexPath: string }> {
  const box = new Sandbox()
  sandboxes.push(box)
  await sandboxWithGatewayProfile(box)
  const codexPath = join(box.home, '.codex', 'config.toml')
  if (codexConfig !== null) {
    mkdirSync(join(box.home, '.codex'), { recursive: true, mode: 0o700 })
    writeFileSync(codexPath, codexConfig)
  }
  return { box, codexPath }
}

interface ProviderAuth { command: string; args: string[]; timeout_ms: number; refresh_interval_ms: number }

function codexConfigOf(path: string): { model_provider?: string; model_providers: Record<string, Record<string, unknown> & { auth?: ProviderAuth }>; mcp_servers?: Record<string, Record<string, unknown>>; otel?: Record<string, unknown> } {
  return JSON.parse(JSON.stringify(parse(readFileSync(path, 'utf8')))) as ReturnType<typeof codexConfigOf>
}

describe('ccred setup codex', () => {
  it('adds the provider with ccred as its auth argv, keeps every line of the user\'s file, and undoes to the same bytes', async () => {
    const { box, codexPath } = await world()
    const setup = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1', '--default'])
    assert.equal(setup.code, 0, describeResult(setup))
    const written = readFileSync(codexPath, 'utf8')
    let at = 0
    for (const line of USER_CODEX_CONFIG.split('\n')) {
      at = written.indexOf(line, at)
      assert.ok(at >= 0, `the user's line ${JSON.stringify(line)} is still there, in order`)
    }
    const config = codexConfigOf(codexPath)
    assert.equal(config.model_provider, 'gw')
    assert.equal(config.model_providers.gw!.base_url, 'https://llm.example.com/v1')
    assert.equal(config.model_providers.gw!.wire_api, 'responses')
    assert.deepEqual(config.model_providers.gw!.auth, {
      command: process.execPath,
      args: [box.cliPath, 'get', 'gw'],
      timeout_ms: 10_000,
      refresh_interval_ms: helperTtlFor(15 * 60_000, 60_000),
    })
    assert.deepEqual(config.model_providers.other, { name: 'Other', base_url: 'https://other.example.com/v1', env_key: 'OTHER_KEY' })
    // The diff shown is exactly the change: patch applies it to the old file and gives the new one.
    const diff = setup.stdout.split('\n').filter((line) => line.startsWith('  ')).map((line) => line.slice(2)).join('\n') + '\n'
    const oldCopy = join(box.root, 'old.toml')
    writeFileSync(oldCopy, USER_CODEX_CONFIG)
    const patched = spawnSync('patch', ['-s', oldCopy], { input: `--- a\n+++ b\n${diff}`, encoding: 'utf8' })
    assert.equal(patched.status, 0, patched.stderr + diff)
    assert.equal(readFileSync(oldCopy, 'utf8'), written)
    // The backup is ccred's, private, never beside the file.
    assert.deepEqual(readdirSync(join(box.home, '.codex')), ['config.toml'])
    const backups = readdirSync(join(box.stateDir, 'setup-backups'))
    assert.equal(backups.length, 1)
    assert.equal(statSync(join(box.stateDir, 'setup-backups', backups[0]!)).mode & 0o777, 0o600)

    const undo = await box.run(['setup', 'codex', '--undo'])
    assert.equal(undo.code, 0, describeResult(undo))
    assert.equal(readFileSync(codexPath, 'utf8'), USER_CODEX_CONFIG, 'back to the very bytes')
  })

  it('refuses a provider with a key Codex refuses beside auth, writing nothing; --fix removes it', async () => {
    const { box, codexPath } = await world()
    const refused = await box.run(['setup', 'codex', 'gw', '--provider', 'other'])
    assert.equal(refused.code, EXIT_CODES.ERR_USAGE, describeResult(refused))
    assert.equal(refused.stderr, `ccred: [model_providers.other] in ${codexPath} sets env_key, which Codex refuses beside an auth command [ERR_USAGE] — run again with --fix to remove it, or name another provider with --provider <id>\n`)
    assert.equal(readFileSync(codexPath, 'utf8'), USER_CODEX_CONFIG)
    const fixed = await box.run(['setup', 'codex', 'gw', '--provider', 'other', '--fix'])
    assert.equal(fixed.code, 0, describeResult(fixed))
    const other = codexConfigOf(codexPath).model_providers.other!
    assert.equal(other.env_key, undefined)
    assert.equal(other.auth!.args.at(-1), 'gw')
    assert.equal(other.name, 'Other', 'the rest of the provider stays')
  })

  it('--dry-run shows the change and writes nothing; a new provider needs --base-url', async () => {
    const { box, codexPath } = await world()
    const dry = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1', '--dry-run'])
    assert.equal(dry.code, 0, describeResult(dry))
    assert.match(dry.stdout, /^would change .*config\.toml:\n/)
    assert.match(dry.stdout, /\+auth = \{ command = /)
    assert.equal(readFileSync(codexPath, 'utf8'), USER_CODEX_CONFIG)
    const noUrl = await box.run(['setup', 'codex', 'gw'])
    assert.equal(noUrl.code, EXIT_CODES.ERR_USAGE)
    assert.match(noUrl.stderr, /has no \[model_providers\.gw\]; ccred needs its base URL.*\[ERR_USAGE\] — pass the gateway's OpenAI-compatible base URL/)
  })

  it('creates ~/.codex/config.toml when there is none, and --undo removes it again', async () => {
    const { box, codexPath } = await world(null)
    const setup = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1'])
    assert.equal(setup.code, 0, describeResult(setup))
    assert.equal(codexConfigOf(codexPath).model_providers.gw!.auth!.command, process.execPath)
    assert.equal((await box.run(['setup', 'codex', '--undo'])).code, 0)
    assert.equal(existsSync(codexPath), false)
  })

  it('honours CODEX_HOME', async () => {
    const { box } = await world(null)
    const codexHome = join(box.root, 'codex-home')
    const setup = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1'], { env: { CODEX_HOME: codexHome } })
    assert.equal(setup.code, 0, describeResult(setup))
    assert.ok(existsSync(join(codexHome, 'config.toml')))
    assert.equal(existsSync(join(box.home, '.codex')), false)
  })

  it('refuses a config.toml that is a link (to a file another party controls), writing nothing', async () => {
    const { box, codexPath } = await world(null)
    const target = join(box.root, 'elsewhere.toml')
    writeFileSync(target, USER_CODEX_CONFIG)
    mkdirSync(join(box.home, '.codex'), { recursive: true })
    symlinkSync(target, codexPath)
    const refused = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1'])
    assert.equal(refused.code, EXIT_CODES.ERR_CONFIG, describeResult(refused))
    assert.match(refused.stderr, /refusing to edit .*config\.toml: .*link/)
    assert.ok(lstatSync(codexPath).isSymbolicLink())
    assert.equal(readFileSync(target, 'utf8'), USER_CODEX_CONFIG)
  })

  it('--mcp and --otel: the MCP helper string and an OTel script Codex runs with no arguments, each printing the header JSON', async () => {
    const { box, codexPath } = await world()
    const setup = await box.run(['setup', 'codex', 'gw', '--base-url', 'https://llm.example.com/v1', '--mcp', 'corp', '--mcp-url', 'https://mcp.example.com/mcp', '--otel'])
    assert.equal(setup.code, 0, describeResult(setup))
    const config = codexConfigOf(codexPath)
    const mcpHelper = config.mcp_servers!.corp!.http_headers_helper as string
    assert.equal(config.mcp_servers!.corp!.url, 'https://mcp.example.com/mcp')
    assert.match(mcpHelper, / get gw --format headers$/)
    const script = config.otel!.headers_helper as string
    assert.equal(config.otel!.headers_helper_refresh_interval_ms, helperTtlFor(15 * 60_000, 60_000))
    assert.equal(statSync(script).mode & 0o777, 0o755)
    // Run both the way Codex does: the MCP string through sh -c with its allow-listed env, the script exec'd bare.
    const allowListed = { HOME: box.home, PATH: box.env.PATH!, CCRED_RUNTIME_DIR: box.runtimeDir }
    const viaSh = spawnSync('sh', ['-c', mcpHelper], { env: allowListed, encoding: 'utf8' })
    assert.equal(viaSh.status, 0, viaSh.stderr)
    assert.match(viaSh.stdout, /^\{"Authorization":"Bearer [\w-]+\.[\w-]+\.[\w-]+"\}\n$/)
    const bare = spawnSync(script, [], { env: { ...box.env }, encoding: 'utf8' })
    assert.equal(bare.status, 0, bare.stderr)
    assert.equal(bare.stdout, viaSh.stdout, 'one daemon, one token')
    const undo = await box.run(['setup', 'codex', '--undo'])
    assert.equal(undo.code, 0, describeResult(undo))
    assert.equal(existsSync(script), false, 'undo removes the script it wrote')
    assert.equal(readFileSync(codexPath, 'utf8'), USER_CODEX_CONFIG)
  })
})
