// The broker for Claude Code's header hooks: MCP headersHelper runs (one per connection, a
// re-run right after a 401 to a tool call) and otelHeadersHelper runs (rare, long-lived).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Broker, type BrokerProfile } from '../../src/broker/broker.js'
import type { CallerFacts } from '../../src/callers/caller.js'
import { hookTtlMs, helperContext, DEFAULT_OTEL_DEBOUNCE_MS, DEFAULT_HELPER_TTL_MS } from '../../src/callers/claude-code.js'
import { decideCaller } from '../../src/callers/registry.js'
import { brokerRequestFor } from '../../src/service/service.js'
import { FakeClock } from '../../src/clock.js'
import { CountingSource } from '../helpers/counting-source.js'
import { tokenValue } from '../helpers/issued.js'

const MINUTE = 60_000
const SKEW_MS = MINUTE

function setup(lifetimeMs = 60 * MINUTE) {
  const clock = new FakeClock()
  const source = new CountingSource(clock, lifetimeMs)
  const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }), random: () => 0.5 })
  const profile: BrokerProfile = { key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source, context: { profile: 'p', clock, resolve: async () => 'unused' } }
  /** A run of Claude Code process `pid` (a helper run by its marks), decided by the caller kinds as the service does. */
  const claudeRun = (pid: number, marks: Record<string, string>, headerSet: boolean) => {
    const facts: CallerFacts = { marks: { AI_AGENT: 'claude-code_2-1-330_harness', ...marks }, headerSet, interactive: false, process: { pid, command: 'claude' } }
    return broker.get(brokerRequestFor(profile, decideCaller(facts, profile.header), facts, { clientStartedAtMs: clock.now() }))
  }
  /** An MCP headersHelper run of Claude Code process `pid` for `server`. */
  const mcp = (pid: number, server: string) => claudeRun(pid, { CLAUDE_CODE_MCP_SERVER_NAME: server }, true)
  return { clock, source, broker, mcp, claudeRun, profile }
}

describe('broker: MCP headersHelper runs', () => {
  it('N connections (N Claude Code processes) share one upstream fetch', async () => {
    const { clock, source, mcp } = setup()
    const values = new Set<string>()
    for (let pid = 100; pid < 110; pid++) {
      clock.advance(200)
      values.add(tokenValue((await mcp(pid, 'corp')).credential))
    }
    assert.equal(source.fetches, 1)
    assert.deepEqual([...values], ['token-1'])
  })

  it('concurrent runs before anything is cached share one fetch', async () => {
    const { source, mcp } = setup()
    let open!: () => void
    source.gate = new Promise<void>((resolve) => { open = resolve })
    const runs = [mcp(1, 'corp'), mcp(2, 'corp'), mcp(1, 'other')]
    open()
    const results = await Promise.all(runs)
    assert.equal(source.fetches, 1)
    assert.deepEqual(results.map((r) => tokenValue(r.credential)), ['token-1', 'token-1', 'token-1'])
  })

  it('a re-run for the same server from the same process soon after is the 401 retry: a new value', async () => {
    const { clock, source, mcp } = setup()
    const first = await mcp(42, 'corp')
    clock.advance(1500) // the tool call got 401; Claude Code re-runs the helper and reconnects
    const retry = await mcp(42, 'corp')
    assert.equal(retry.served, 'reissue')
    assert.notEqual(tokenValue(retry.credential), tokenValue(first.credential))
    assert.equal(source.fetches, 2)
  })

  it('another server of the same process is its own connection, not a re-run', async () => {
    const { clock, source, mcp } = setup()
    await mcp(42, 'corp')
    clock.advance(100)
    assert.equal((await mcp(42, 'tickets')).served, 'hit')
    assert.equal(source.fetches, 1)
  })

  it('re-runs are bounded: within the re-issue interval the same value is served again', async () => {
    const { clock, source, mcp } = setup()
    await mcp(42, 'corp')
    clock.advance(1000)
    assert.equal((await mcp(42, 'corp')).served, 'reissue')
    clock.advance(1000)
    assert.equal((await mcp(42, 'corp')).served, 'hit')
    assert.equal(source.fetches, 2)
  })

  it('two re-runs at once (a session 404 reconnect) share the one new value', async () => {
    const { clock, source, mcp } = setup()
    await mcp(42, 'corp')
    clock.advance(1000)
    let open!: () => void
    source.gate = new Promise<void>((resolve) => { open = resolve })
    const first = mcp(42, 'corp')
    clock.advance(10)
    const second = mcp(42, 'corp')
    open()
    const results = await Promise.all([first, second])
    assert.deepEqual(results.map((r) => tokenValue(r.credential)), ['token-2', 'token-2'])
    assert.equal(source.fetches, 2)
  })

  it('a run without the server name (an older Claude Code, a script) is served from the cache', async () => {
    const { clock, source, broker, profile } = setup()
    // Claude Code by its process name, a header set, no server name: there is no telling its connections apart.
    const facts: CallerFacts = { marks: {}, headerSet: true, interactive: false, process: { pid: 42, command: 'claude' }, parent: { pid: 43, command: 'sh' } }
    const ask = () => broker.get(brokerRequestFor(profile, decideCaller(facts, profile.header), facts, { clientStartedAtMs: clock.now() }))
    await ask()
    clock.advance(1000)
    assert.equal((await ask()).served, 'hit')
    assert.equal(source.fetches, 1)
  })
})

describe('broker: otelHeadersHelper runs', () => {
  it('the value outlives the debounce period: a cached value too short for it is replaced', async () => {
    const { clock, source, claudeRun } = setup(60 * MINUTE)
    const ttlMs = hookTtlMs('otelHeadersHelper', {})
    assert.equal(ttlMs, DEFAULT_OTEL_DEBOUNCE_MS)
    const ask = () => claudeRun(7, {}, true)
    const first = await ask()
    clock.advance(1000)
    assert.equal((await ask()).served, 'hit', 'otel runs are never read as a 401')
    // 60 min value: after 31 min it has 29 min left, less than the debounce + skew.
    clock.advance(31 * MINUTE)
    const later = await ask()
    assert.notEqual(tokenValue(later.credential), tokenValue(first.credential))
    assert.ok(later.credential.expiresAt!.getTime() - clock.now() >= ttlMs + SKEW_MS)
    assert.ok(source.fetches >= 2)
  })
})

describe('helper context of the header hooks', () => {
  it('--format headers with an MCP server name is headersHelper; without, otelHeadersHelper with its debounce', () => {
    assert.equal(helperContext({ CLAUDE_CODE_MCP_SERVER_NAME: 'corp' }, true).hook, 'headersHelper')
    assert.equal(helperContext({ CLAUDE_CODE_MCP_SERVER_NAME: 'corp', CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '3600000' }, true).callerTtlMs, DEFAULT_HELPER_TTL_MS)
    assert.equal(helperContext({}, true).hook, 'otelHeadersHelper')
    assert.equal(helperContext({}, true).callerTtlMs, DEFAULT_OTEL_DEBOUNCE_MS)
    assert.equal(helperContext({ CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS: '600000' }, true).callerTtlMs, 600_000)
    assert.equal(helperContext({ CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS: 'soon' }, true).callerTtlMs, DEFAULT_OTEL_DEBOUNCE_MS)
    assert.equal(helperContext({}).hook, 'apiKeyHelper')
  })
})
