import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseHelperTtlMs, helperContext } from '../../src/callers/claude-code.js'
import { formatDurationMs, parseDurationMs } from '../../src/config/duration.js'
import { parseConfig } from '../../src/profiles/load.js'
import { resolveReference, type ReferenceDeps } from '../../src/config/references.js'
import { CcredError } from '../../src/errors.js'
import { envExports, envVariables, headerValue } from '../../src/output/format.js'
import { posixQuote } from '../../src/text/shell-quote/posix.js'
import { parseOutput } from '../../src/sources/exec.js'
import { SOURCE_KINDS } from '../../src/sources/registry.js'

const meta = { path: '/cfg/config.toml', fromFile: true, stamp: 's' }
const parse = (text: string) => parseConfig(text, '/cfg/config.toml', meta)

async function configError(text: string): Promise<CcredError> {
  try {
    await parse(text)
  } catch (error) {
    assert.ok(error instanceof CcredError)
    return error
  }
  assert.fail('expected a config error')
}

describe('config', () => {
  it('reads broker settings and profiles with defaults', async () => {
    const config = await parse(`
[broker]
skew = "90s"
store = "file"

[profiles.a]
source = "static"
value = "env:A_KEY"
header = "proxy-authorization"

[profiles.b]
source = "exec"
command = ["/bin/echo", "x"]
lifetime = "55m"
`)
    assert.equal(config.broker.skewMs, 90_000)
    assert.equal(config.broker.store, 'file')
    assert.equal(config.broker.reissueIntervalMs, 10_000)
    assert.equal(config.profiles.get('a')!.header, 'proxy-authorization')
    assert.equal(config.profiles.get('b')!.header, 'authorization')
    assert.equal(config.invalidProfiles.size, 0)
  })

  it('names file, line and column for invalid TOML', async () => {
    const error = await configError('[profiles.a]\nsource = "static\n')
    assert.equal(error.code, 'ERR_CONFIG')
    assert.match(error.message, /^\/cfg\/config\.toml:2:\d+: invalid TOML/)
    assert.match(error.hint!, /line 2/)
  })

  it('keeps a bad profile aside with profile.key and what was expected; the others still load', async () => {
    const config = await parse(`
[profiles.good]
source = "demo"

[profiles.bad]
source = "exec"
command = "get-key --json"
lifetime = 42
timeout = "soon"
colour = "blue"
`)
    assert.ok(config.profiles.has('good'))
    const error = config.invalidProfiles.get('bad')!
    assert.equal(error.code, 'ERR_CONFIG')
    assert.match(error.message, /profiles\.bad\.command: expected an argv array/)
    assert.match(error.message, /profiles\.bad\.lifetime: expected a duration string like "90s"/)
    assert.match(error.message, /profiles\.bad\.timeout: "soon" is not a duration/)
    assert.match(error.message, /profiles\.bad\.colour: unknown key/)
  })

  it('refuses secrets written inline, unknown sources and headers, and bad names', async () => {
    const config = await parse(`
[profiles.inline]
source = "static"
value = "sk-live-123"

[profiles.nosource]
header = "authorization"

[profiles.weird]
source = "magic"

[profiles.hdr]
source = "demo"
header = "x-api-key"

[profiles."bad name"]
source = "demo"
`)
    assert.match(config.invalidProfiles.get('inline')!.message, /profiles\.inline\.value: expected a reference "env:NAME", "file:PATH" or "keychain:NAME"; secrets are never written/)
    assert.ok(!config.invalidProfiles.get('inline')!.message.includes('sk-live-123'), 'the inline secret is not echoed')
    assert.match(config.invalidProfiles.get('nosource')!.message, /source is required/)
    assert.ok(config.invalidProfiles.get('weird')!.message.includes(`source "magic" is not a known source (known: ${SOURCE_KINDS.join(', ')})`))
    assert.match(config.invalidProfiles.get('hdr')!.message, /profiles\.hdr\.header: expected one of "authorization", "proxy-authorization", got "x-api-key"/)
    assert.match(config.invalidProfiles.get('bad name')!.message, /profile name uses letters/)
  })

  it('fails the whole file for a bad [broker] table or unknown top-level key', async () => {
    assert.match((await configError('[broker]\nskew = 60\n')).message, /broker\.skew: expected a duration string/)
    assert.match((await configError('[broker]\nstore = "vault"\n')).message, /broker\.store: expected one of "keychain", "file"/)
    assert.match((await configError('profile = 1\n')).message, /profile: unknown top-level key/)
  })
})

describe('durations', () => {
  it('parses and formats', () => {
    assert.equal(parseDurationMs('90s'), 90_000)
    assert.equal(parseDurationMs('1h30m'), 5_400_000)
    assert.equal(parseDurationMs('500ms'), 500)
    assert.equal(parseDurationMs('1.5h'), 5_400_000)
    assert.equal(parseDurationMs('10'), undefined)
    assert.equal(parseDurationMs('5 m'), undefined)
    assert.equal(parseDurationMs(''), undefined)
    assert.equal(formatDurationMs(330_000), '5m30s')
    assert.equal(formatDurationMs(3_600_000), '1h')
  })
})

describe('helper context', () => {
  it('reads the TTL the way Claude Code does', () => {
    assert.equal(parseHelperTtlMs(undefined), 300_000)
    assert.equal(parseHelperTtlMs('60000'), 60_000)
    assert.equal(parseHelperTtlMs('2000ms'), 2000)
    assert.equal(parseHelperTtlMs('-5'), 300_000)
    assert.equal(parseHelperTtlMs('soon'), 300_000)
    assert.equal(parseHelperTtlMs('0'), 0)
  })

  it('recognises a proxyAuthHelper run by CLAUDE_CODE_PROXY_URL and uses its own TTL variable', () => {
    assert.deepEqual(helperContext({ CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '1000' }), { callerTtlMs: 1000, hook: 'apiKeyHelper' })
    assert.deepEqual(helperContext({ CLAUDE_CODE_PROXY_URL: 'http://p:1', CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS: '2000', CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '1000' }), { callerTtlMs: 2000, hook: 'proxyAuthHelper', rejected: false })
    assert.equal(helperContext({ CLAUDE_CODE_PROXY_URL: 'http://p:1', CLAUDE_CODE_PROXY_AUTHENTICATE: 'Basic realm="x"' }).rejected, true, 'the re-run after a 407')
    assert.equal(helperContext({ CLAUDE_CODE_PROXY_AUTHENTICATE: 'Basic realm="x"' }).rejected, undefined, 'not a proxy helper run: nothing said')
  })
})

describe('output', () => {
  it('tailors the value to the header that carries it', () => {
    assert.equal(headerValue({ kind: 'token', value: 'tok', scheme: 'Bearer' }, 'authorization'), 'tok')
    assert.equal(headerValue({ kind: 'token', value: 'tok', scheme: 'Bearer' }, 'proxy-authorization'), 'Bearer tok')
    assert.equal(headerValue({ kind: 'token', value: 'user:pw', scheme: 'Basic' }, 'proxy-authorization'), `Basic ${Buffer.from('user:pw').toString('base64')}`)
  })

  it('prints shell exports that survive any value', () => {
    assert.deepEqual(envVariables({ kind: 'token', value: 'tok', scheme: 'Bearer' }, 'authorization'), { ANTHROPIC_AUTH_TOKEN: 'tok' })
    assert.deepEqual(envVariables({ kind: 'token', value: 'tok', scheme: 'Bearer' }, 'proxy-authorization'), { ANTHROPIC_CUSTOM_HEADERS: 'Proxy-Authorization: Bearer tok' })
    assert.equal(posixQuote(`it's`), `'it'\\''s'`)
    assert.equal(envExports({ A: "x'y" }), `export A='x'\\''y'\n`)
  })
})

describe('references', () => {
  const deps = (over: Partial<ReferenceDeps> = {}): ReferenceDeps => ({
    env: {}, homeDir: '/home/u', storeDescription: 'the test store',
    readFile: async () => { throw Object.assign(new Error('nope'), { code: 'ENOENT' }) },
    storeGet: async () => undefined,
    ...over,
  })

  it('resolves env, file (one trailing newline dropped) and keychain references', async () => {
    assert.equal(await resolveReference({ kind: 'env', target: 'K' }, 'profiles.p.value', deps({ env: { K: 'v1' } }), 'p'), 'v1')
    assert.equal(await resolveReference({ kind: 'file', target: '~/k' }, 'profiles.p.value', deps({ readFile: async (path) => { assert.equal(path, '/home/u/k'); return 'v2\n' } }), 'p'), 'v2')
    assert.equal(await resolveReference({ kind: 'keychain', target: 'n' }, 'profiles.p.value', deps({ storeGet: async () => 'v3' }), 'p'), 'v3')
  })

  it('says which reference is missing and what to do', async () => {
    await assert.rejects(resolveReference({ kind: 'env', target: 'MISSING' }, 'profiles.p.value', deps(), 'p'), (e: CcredError) =>
      e.code === 'ERR_REFERENCE' && /profiles\.p\.value: environment variable MISSING is not set/.test(e.message) && /ccred daemon stop/.test(e.hint!))
    await assert.rejects(resolveReference({ kind: 'file', target: '/x/key' }, 'profiles.p.value', deps(), 'p'), (e: CcredError) =>
      e.code === 'ERR_REFERENCE' && /file \/x\/key does not exist/.test(e.message))
    await assert.rejects(resolveReference({ kind: 'keychain', target: 'n' }, 'profiles.p.value', deps(), 'p'), (e: CcredError) =>
      e.code === 'ERR_REFERENCE' && /no secret named "n" in the test store/.test(e.message) && e.hint === 'store it with: ccred set p')
  })
})

describe('exec output parsing', () => {
  const options = { lifetimeMs: undefined, argv: ['/bin/helper'], shell: false }
  const now = Date.UTC(2026, 0, 1)

  it('takes a bare line, or JSON with expires_at / expires_in, or the configured lifetime', () => {
    assert.deepEqual(parseOutput('tok\n', options, now).value, 'tok')
    assert.equal(parseOutput('tok\n', options, now).expiresAt, undefined)
    assert.equal(parseOutput('tok', { ...options, lifetimeMs: 60_000 }, now).expiresAt!.getTime(), now + 60_000)
    const json = parseOutput('{"token": "t", "expires_at": "2026-01-01T01:00:00Z"}', options, now)
    assert.equal(json.value, 't')
    assert.equal(json.expiresAt!.toISOString(), '2026-01-01T01:00:00.000Z')
    assert.equal(parseOutput('{"token": "t", "expires_in": 120}', options, now).expiresAt!.getTime(), now + 120_000)
  })

  it('refuses empty, multi-line and malformed output with the reason', () => {
    assert.throws(() => parseOutput('  \n', options, now), /printed nothing/)
    assert.throws(() => parseOutput('a\nb\n', options, now), /printed 2 lines; a credential must be a single line/)
    assert.throws(() => parseOutput('{"token": ', options, now), /not valid JSON/)
    assert.throws(() => parseOutput('{"key": "x"}', options, now), /without a string "token" field/)
    assert.throws(() => parseOutput('{"token": "x", "expires_at": "tomorrow"}', options, now), /not an RFC 3339 time/)
    assert.throws(() => parseOutput('{"token": "x", "expires_in": -1}', options, now), /positive number of seconds/)
  })
})
