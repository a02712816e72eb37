// Each caller kind: how it is recognised, what it decides, what it advises; and the broker
// fed with those decisions (a Codex 401 storm costs a stated number of upstream fetches).
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Broker, type BrokerProfile } from '../../src/broker/broker.js'
import type { CallerFacts } from '../../src/callers/caller.js'
import { CODEX_QUICK_REPEAT_MS } from '../../src/callers/codex.js'
import { callerKindFor, decideCaller, gatherMarks } from '../../src/callers/registry.js'
import { FakeClock } from '../../src/clock.js'
import type { Credential } from '../../src/credential.js'
import { brokerRequestFor } from '../../src/service/service.js'
import type { Source } from '../../src/sources/source.js'
import { repoRoot } from '../helpers/claude.js'

const HARNESS = { AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'sdk-cli' }

/** Facts as the service builds them: the client's marks from `env`, and the ancestry a reader found. */
function facts(env: Record<string, string>, extra: Partial<CallerFacts> = {}): CallerFacts {
  return { marks: gatherMarks(env), headerSet: false, interactive: false, ...extra }
}
const claudeProcess = { process: { pid: 500, command: 'claude' }, parent: { pid: 501, command: 'sh' }, parentPid: 501 }
/** Codex's provider auth and OTel hooks: exec'd by codex directly. */
const codexExec = { process: { pid: 700, command: 'codex' }, parent: { pid: 700, command: 'codex' }, parentPid: 700 }
/** Codex's MCP http_headers_helper: `sh -c` under codex. */
const codexShell = { process: { pid: 700, command: 'codex' }, parent: { pid: 702, command: 'sh' }, parentPid: 702 }

describe('caller kind: Claude Code', () => {
  it('apiKeyHelper: a quick repeat within half the TTL is a refusal, keyed by the Claude Code process', () => {
    const decision = decideCaller(facts({ ...HARNESS, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '60000' }, claudeProcess), 'authorization')
    assert.equal(decision.kind, 'claude-code')
    assert.equal(decision.hook, 'apiKeyHelper')
    assert.equal(decision.callerTtlMs, 60_000)
    assert.equal(decision.callerKey, '500')
    assert.deepEqual(decision.reissueOnQuickRepeat, { withinMs: 30_000 })
    assert.equal(decision.rejected, undefined)
  })

  it('a person at a terminal, a TTL of 0, proxyAuthHelper and otelHeadersHelper never re-issue on a repeat', () => {
    assert.equal(decideCaller(facts(HARNESS, { ...claudeProcess, interactive: true }), 'authorization').reissueOnQuickRepeat, undefined)
    assert.equal(decideCaller(facts({ ...HARNESS, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' }, claudeProcess), 'authorization').reissueOnQuickRepeat, undefined)
    const proxy = decideCaller(facts({ ...HARNESS, CLAUDE_CODE_PROXY_URL: 'http://p:1' }, claudeProcess), 'authorization')
    assert.equal(proxy.hook, 'proxyAuthHelper')
    assert.equal(proxy.reissueOnQuickRepeat, undefined)
    assert.equal(proxy.rejected, false, 'no 407 challenge: the value was not refused')
    assert.equal(decideCaller(facts({ ...HARNESS, CLAUDE_CODE_PROXY_URL: 'http://p:1', CLAUDE_CODE_PROXY_AUTHENTICATE: 'Bearer realm="gw"' }, claudeProcess), 'authorization').rejected, true)
    const otel = decideCaller(facts(HARNESS, { ...claudeProcess, headerSet: true }), 'authorization')
    assert.equal(otel.hook, 'otelHeadersHelper')
    assert.equal(otel.reissueOnQuickRepeat, undefined)
  })

  it('an MCP headersHelper is keyed by process and server, and re-issued only when the server is named', () => {
    const mcp = decideCaller(facts({ ...HARNESS, CLAUDE_CODE_MCP_SERVER_NAME: 'docs' }, { ...claudeProcess, headerSet: true }), 'authorization')
    assert.equal(mcp.hook, 'headersHelper')
    assert.equal(mcp.callerKey, '500 mcp:docs')
    assert.deepEqual(mcp.reissueOnQuickRepeat, { withinMs: 150_000 })
  })

  it('on Windows (no ancestry) the session is known from the digest of the messaging socket, the same on every run', () => {
    const env = { ...HARNESS, CLAUDE_CODE_MESSAGING_SOCKET: '\\\\.\\pipe\\claude-1234', CLAUDE_CODE_MESSAGING_TOKEN: 'never' }
    const first = decideCaller(facts(env, { parentPid: 9001 }), 'authorization')
    const rerun = decideCaller(facts(env, { parentPid: 9002 }), 'authorization') // a new cmd.exe each run
    assert.equal(first.kind, 'claude-code')
    assert.match(first.callerKey!, /^session:[0-9a-f]{16}$/)
    assert.equal(rerun.callerKey, first.callerKey)
    assert.notEqual(decideCaller(facts({ ...env, CLAUDE_CODE_MESSAGING_SOCKET: '\\\\.\\pipe\\claude-5678' }), 'authorization').callerKey, first.callerKey, 'another session')
    assert.ok(first.reissueOnQuickRepeat !== undefined)
  })

  it('the advice names the TTL variable of the hook setup writes for the profile', () => {
    const decision = decideCaller(facts(HARNESS, claudeProcess), 'authorization')
    assert.equal(decision.shortLifetimeAdvice(96_000), "set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=96000 (or lengthen the credential's lifetime)")
    assert.match(decideCaller(facts(HARNESS, claudeProcess), 'proxy-authorization').shortLifetimeAdvice(96_000), /^set CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS=96000 /)
  })
})

describe('caller kind: a plain script (the default)', () => {
  it('anything no agent recognises: Claude Code\'s TTL variables and 407 challenge apply, a repeat is never a refusal', () => {
    const make = facts({ CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '1000' }, { process: { pid: 33, command: 'make' } })
    assert.equal(callerKindFor(make).name, 'script')
    const decision = decideCaller(make, 'authorization')
    assert.equal(decision.callerTtlMs, 1000)
    assert.equal(decision.reissueOnQuickRepeat, undefined)
    assert.equal(decision.callerKey, '33')
    assert.equal(decideCaller(facts({ CLAUDE_CODE_PROXY_URL: 'http://p:1', CLAUDE_CODE_PROXY_AUTHENTICATE: 'x' }), 'authorization').rejected, true)
    assert.match(decision.shortLifetimeAdvice(18_000), /^set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=18000 /)
  })

  it('what the command states wins over the kind (aws-export, doctor)', () => {
    const decision = decideCaller({ ...facts({}), statedTtlMs: 15 * 60_000, statedRejected: false }, 'authorization')
    assert.equal(decision.callerTtlMs, 15 * 60_000)
    assert.equal(decision.rejected, false)
  })
})

describe('caller kind: Codex', () => {
  it('recognised by ancestry: its provider and OTel hooks exec\'d by codex, its MCP helper under sh', () => {
    assert.equal(callerKindFor(facts({}, codexExec)).name, 'codex')
    assert.equal(callerKindFor(facts({}, { ...codexShell, headerSet: true })).name, 'codex')
    assert.equal(decideCaller(facts({}, codexExec), 'authorization').hook, 'provider auth')
    assert.equal(decideCaller(facts({}, { ...codexExec, headerSet: true }), 'authorization').hook, 'otel headers_helper')
    assert.equal(decideCaller(facts({}, { ...codexShell, headerSet: true }), 'authorization').hook, 'mcp http_headers_helper')
  })

  it('the launcher marks stand in where no ancestry is read (Windows), but never against a process that is not codex', () => {
    const npm = { CODEX_MANAGED_BY_NPM: '1', CODEX_MANAGED_PACKAGE_ROOT: 'C:\\npm\\node_modules\\@openai\\codex' }
    const windows = decideCaller(facts(npm, { parentPid: 4321 }), 'authorization')
    assert.equal(windows.kind, 'codex')
    assert.equal(windows.callerKey, '4321', 'the parent of an exec\'d hook is Codex itself')
    assert.equal(callerKindFor(facts(npm, { process: { pid: 3, command: 'make' } })).name, 'script', 'a make run from a shell Codex started')
    assert.equal(callerKindFor(facts({}, { parentPid: 4321 })).name, 'script', 'no marks, no ancestry: a script')
  })

  it("a command Codex's agent runs in its sandbox is a script", () => {
    assert.equal(callerKindFor(facts({ CODEX_SANDBOX_NETWORK_DISABLED: '1' }, codexShell)).name, 'script')
    assert.equal(callerKindFor(facts({ CODEX_SANDBOX: 'seatbelt' }, codexShell)).name, 'script')
  })

  it('provider auth: a quick repeat from the same Codex process is its 401 retry; MCP and OTel runs never', () => {
    const provider = decideCaller(facts({}, codexExec), 'authorization')
    assert.equal(provider.callerKey, '700')
    assert.deepEqual(provider.reissueOnQuickRepeat, { withinMs: CODEX_QUICK_REPEAT_MS })
    assert.equal(provider.callerTtlMs, 300_000, 'refresh_interval_ms cannot be seen: the stated assumption')
    assert.equal(decideCaller(facts({}, { ...codexExec, interactive: true }), 'authorization').reissueOnQuickRepeat, undefined)
    const mcp = decideCaller(facts({}, { ...codexShell, headerSet: true }), 'authorization')
    assert.equal(mcp.reissueOnQuickRepeat, undefined)
    assert.equal(mcp.callerKey, '700 mcp http_headers_helper')
    assert.equal(decideCaller(facts({}, { ...codexExec, headerSet: true }), 'authorization').reissueOnQuickRepeat, undefined)
  })

  it('the advice names refresh_interval_ms in Codex\'s config.toml, not a TTL variable', () => {
    assert.equal(decideCaller(facts({}, codexExec), 'authorization').shortLifetimeAdvice(96_000), "set refresh_interval_ms = 96000 in the provider's auth table of ~/.codex/config.toml (or lengthen the credential's lifetime)")
    assert.match(decideCaller(facts({ CODEX_HOME: '/srv/codex' }, codexExec), 'authorization').shortLifetimeAdvice(96_000), /of \$CODEX_HOME\/config\.toml /)
    assert.match(decideCaller(facts({}, { ...codexExec, headerSet: true }), 'authorization').shortLifetimeAdvice(5000), /headers_helper_refresh_interval_ms = 5000 in \[otel\]/)
    assert.doesNotMatch(decideCaller(facts({}, codexExec), 'authorization').shortLifetimeAdvice(1), /CLAUDE_CODE/)
  })
})

class CountingSource implements Source {
  readonly kind = 'test'
  fetches = 0
  constructor(readonly clock: FakeClock) {}
  async fetch(): Promise<Credential> {
    this.fetches++
    return { kind: 'token', value: `token-${this.fetches}`, expiresAt: new Date(this.clock.now() + 60 * 60_000) }
  }
}

describe('the broker with Codex decisions', () => {
  function setup() {
    const clock = new FakeClock()
    const source = new CountingSource(clock)
    // The defaults of [broker]: re-issues at most one per 10 s, a bucket of 3.
    const broker = new Broker({ clock, settings: () => ({ skewMs: 60_000, reissueIntervalMs: 10_000, forcedBurst: 3, forcedRefillMs: 10_000 }), random: () => 0.5 })
    const profile: BrokerProfile = { key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source, context: { profile: 'p', clock, resolve: async () => 'unused' } }
    /** One provider-auth run of Codex process 700: a new helper process, started now. */
    const run = async () => {
      const codexRun = facts({}, codexExec)
      const result = await broker.get(brokerRequestFor(profile, decideCaller(codexRun, profile.header), codexRun, { clientStartedAtMs: clock.now() }))
      return { served: result.served, value: (result.credential as { value: string }).value }
    }
    return { clock, source, run }
  }

  it('a re-run soon after the value was handed is the 401 retry: a fresh value', async () => {
    const { clock, source, run } = setup()
    const first = await run()
    clock.advance(1200) // Codex: request → 401 → re-run the helper
    const retry = await run()
    assert.deepEqual([first.served, retry.served], ['fetch', 'reissue'])
    assert.notEqual(retry.value, first.value)
    assert.equal(source.fetches, 2)
  })

  it('a 401 storm (7 runs in about 8 s, as measured) costs 2 upstream fetches: the first value and one re-issue', async () => {
    const { clock, source, run } = setup()
    const served: string[] = []
    for (let i = 0; i < 7; i++) {
      served.push((await run()).served)
      clock.advance(1300)
    }
    assert.deepEqual(served, ['fetch', 'reissue', 'hit', 'hit', 'hit', 'hit', 'hit'])
    assert.equal(source.fetches, 2)
  })

  it('a proactive refresh after refresh_interval_ms is served from the cache', async () => {
    const { clock, source, run } = setup()
    await run()
    clock.advance(CODEX_QUICK_REPEAT_MS)
    assert.equal((await run()).served, 'hit')
    assert.equal(source.fetches, 1)
  })
})

describe('the broker knows no agent', () => {
  it('no file of src/broker/ imports src/callers/ or src/claude/, nor names a hook or an agent variable', () => {
    const dir = join(repoRoot(), 'src', 'broker')
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const text = readFileSync(join(dir, file), 'utf8')
      assert.doesNotMatch(text, /from '\.\.\/(callers|claude)\//, `${file} imports an agent's module`)
      // Code only: a comment may explain with an example.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      assert.doesNotMatch(code, /CLAUDE_CODE_|CODEX_|apiKeyHelper|headersHelper|refresh_interval_ms/, `${file} names an agent's hook or variable`)
    }
  })
})
