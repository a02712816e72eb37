import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { parse } from 'smol-toml'
import { isCcredError } from '../../src/errors.js'
import { editToml, tomlValue } from '../../src/setup/toml-edit.js'

const USER_FILE = `# my Codex config: hand-written, keep my comments
model = "gpt-5"   # the default model
approval_policy = "on-request"

[model_providers.other]
name = "Other"   # not ours
base_url = "https://other.example.com/v1"
env_key = "OTHER_KEY"

# the gateway
[model_providers.gw]
name = "Gateway"
base_url = "https://old.example.com/v1"
http_headers = { "X-Team" = "eng" }

[mcp_servers.docs]
command = "docs-mcp"
args = [
  "--port",
  "8080", # trailing comment inside an array
]
`

describe('editToml keeps the user\'s file as it was outside what it changes', () => {
  it('replaces a key in place, adds a key to its table, and leaves comments, order and other tables alone', () => {
    const after = editToml(USER_FILE, [
      { table: ['model_providers', 'gw'], key: 'base_url', value: 'https://llm.example.com/v1' },
      { table: ['model_providers', 'gw'], key: 'auth', value: { command: '/opt/ccred/bin/ccred', args: ['get', 'gw'], timeout_ms: 10000, refresh_interval_ms: 600000 } },
      { table: [], key: 'model_provider', value: 'gw' },
    ])
    assert.equal(after, USER_FILE
      .replace('base_url = "https://old.example.com/v1"', 'base_url = "https://llm.example.com/v1"')
      .replace('http_headers = { "X-Team" = "eng" }\n', 'http_headers = { "X-Team" = "eng" }\nauth = { command = "/opt/ccred/bin/ccred", args = ["get", "gw"], timeout_ms = 10000, refresh_interval_ms = 600000 }\n')
      .replace('approval_policy = "on-request"\n', 'approval_policy = "on-request"\nmodel_provider = "gw"\n'))
  })

  it('a table that is not there is appended at the end, under its own header', () => {
    const after = editToml(USER_FILE, [
      { table: ['mcp_servers', 'corp'], key: 'url', value: 'https://mcp.example.com/mcp' },
      { table: ['mcp_servers', 'corp'], key: 'http_headers_helper', value: "'/opt/ccred' get mcp --format headers" },
    ])
    assert.equal(after, `${USER_FILE}\n[mcp_servers.corp]\nurl = "https://mcp.example.com/mcp"\nhttp_headers_helper = "'/opt/ccred' get mcp --format headers"\n`)
  })

  it('a new sub-table of a table that only its sub-tables\' headers define gets a header of its own', () => {
    const after = editToml(USER_FILE, [{ table: ['mcp_servers'], key: 'corp', value: { url: 'https://mcp.example.com/mcp', http_headers_helper: 'ccred get mcp --format headers' } }])
    assert.equal(after, `${USER_FILE}\n[mcp_servers.corp]\nurl = "https://mcp.example.com/mcp"\nhttp_headers_helper = "ccred get mcp --format headers"\n`)
  })

  it('a multi-line value is replaced whole, and removing a key removes all its lines', () => {
    const after = editToml(USER_FILE, [{ table: ['mcp_servers', 'docs'], key: 'args', value: ['--port', '9090'] }])
    assert.match(after, /\[mcp_servers\.docs\]\ncommand = "docs-mcp"\nargs = \["--port", "9090"\]\n$/)
    const removed = editToml(USER_FILE, [{ table: ['mcp_servers', 'docs'], key: 'args', value: undefined }])
    assert.match(removed, /\[mcp_servers\.docs\]\ncommand = "docs-mcp"\n$/)
    assert.equal((parse(removed) as { mcp_servers: { docs: Record<string, unknown> } }).mcp_servers.docs.args, undefined)
  })

  it('a table the user keeps under its own header is edited key by key there, not defined twice', () => {
    const text = '[model_providers.gw]\nname = "G"\n\n[model_providers.gw.auth]\ncommand = "old-helper"  # mine\nargs = ["x"]\ncwd = "/tmp"\n'
    const after = editToml(text, [{ table: ['model_providers', 'gw'], key: 'auth', value: { command: '/opt/ccred', args: ['get', 'gw'] } }])
    assert.equal(after, '[model_providers.gw]\nname = "G"\n\n[model_providers.gw.auth]\ncommand = "/opt/ccred"\nargs = ["get", "gw"]\n')
  })

  it('removing the last key of a table removes its header too, so an undo leaves no empty table behind', () => {
    const before = '# mine\nmodel = "gpt-5"\n'
    const added = editToml(before, [{ table: ['model_providers', 'gw'], key: 'name', value: 'gw' }, { table: ['otel'], key: 'headers_helper', value: '/x' }])
    assert.equal(editToml(added, [{ table: ['model_providers', 'gw'], key: 'name', value: undefined }, { table: ['otel'], key: 'headers_helper', value: undefined }]), before)
    const kept = editToml('[t]\na = 1\n# a note\nb = 2\n', [{ table: ['t'], key: 'a', value: undefined }])
    assert.equal(kept, '[t]\n# a note\nb = 2\n', 'a table with keys left keeps its header')
  })

  it('an empty file gets the tables it needs', () => {
    assert.equal(editToml('', [{ table: [], key: 'model_provider', value: 'gw' }, { table: ['model_providers', 'gw'], key: 'name', value: 'Gateway' }]),
      'model_provider = "gw"\n\n[model_providers.gw]\nname = "Gateway"\n')
  })

  it('CRLF files stay CRLF', () => {
    const after = editToml('a = 1\r\n[t]\r\nb = 2\r\n', [{ table: ['t'], key: 'c', value: 3 }])
    assert.equal(after, 'a = 1\r\n[t]\r\nb = 2\r\nc = 3\r\n')
  })

  it('refuses a table defined with dotted keys or inline, instead of writing a duplicate that breaks the file', () => {
    for (const text of ['model_providers.gw.name = "x"\n', 'model_providers = { gw = { name = "x" } }\n', '[model_providers]\ngw.name = "x"\n']) {
      assert.throws(() => editToml(text, [{ table: ['model_providers', 'gw'], key: 'base_url', value: 'u' }]), (error: unknown) => isCcredError(error, 'ERR_CONFIG') && /cannot edit/.test(error.message), text)
    }
  })

  it('refuses a file that is not TOML, writing nothing', () => {
    assert.throws(() => editToml('a = "open\n', [{ table: [], key: 'b', value: 1 }]), (error: unknown) => isCcredError(error, 'ERR_CONFIG'))
  })

  it('quotes keys and escapes strings so any value round-trips', () => {
    fc.assert(fc.property(fc.string(), fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('constructor', '__proto__', 'toString', 'gw', 'other', 'a.b', '"')), fc.array(fc.string(), { maxLength: 3 }), (value, key, list) => {
      const text = editToml(USER_FILE, [
        { table: ['model_providers', key], key: 'auth', value: { command: value, args: list } },
        { table: ['model_providers', 'gw'], key: key, value },
      ])
      const providers = (parse(text) as { model_providers: Record<string, Record<string, unknown>> }).model_providers
      const own = (object: Record<string, unknown>, name: string): unknown => Object.getOwnPropertyDescriptor(object, name)?.value
      assert.deepEqual(JSON.parse(JSON.stringify(own(own(providers, key) as Record<string, unknown>, 'auth'))), { command: value, args: list })
      assert.equal(own(providers.gw!, key), value)
      assert.ok(text.startsWith(USER_FILE.slice(0, USER_FILE.indexOf('[model_providers.other]'))), 'everything before the provider tables is untouched')
      assert.ok(text.includes(USER_FILE.slice(USER_FILE.indexOf('[mcp_servers.docs]'))), 'the MCP table is untouched')
    }), { numRuns: 300 })
  })

  it('tomlValue writes one line whatever the string holds', () => {
    assert.equal(tomlValue('a\nb"c\\'), '"a\\nb\\"c\\\\"')
    assert.doesNotMatch(tomlValue({ k: 'line\nbreak' }), /\n/)
  })
})
