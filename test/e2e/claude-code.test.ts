// The real Claude Code (node_modules/.bin/claude, headless) with the real ccred as its
// apiKeyHelper / proxyAuthHelper: the helper autostarts the real daemon in a private sandbox,
// and loopback stubs (gateway, forward proxy) record what Claude Code sent.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runClaude } from '../helpers/claude.js'
import type { RunClaudeResult } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun, helperCommand, type SkipContext } from '../helpers/claude-world.js'
import { startForwardProxy } from '../helpers/forward-proxy.js'
import type { Proxy, ProxyRequest } from '../helpers/forward-proxy.js'
import { startGateway } from '../helpers/gateway.js'
import type { Gateway, RecordedRequest } from '../helpers/gateway.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = CLAUDE_TIMEOUT_MS + 30_000
const DEMO_VALUE = /^ccred-demo-[0-9a-f]{32}$/

function messages(requests: RecordedRequest[]): RecordedRequest[] {
  return requests.filter((request) => request.method === 'POST' && request.path.startsWith('/v1/messages'))
}

function describeRequests(requests: RecordedRequest[]): string {
  return requests.map((r) => `${r.method} ${r.path} ${r.status ?? '-'} cred=${r.credential === undefined ? '-' : r.credential.slice(0, 18) + '…'}`).join('; ')
}

/** Runs `fn` with a fresh sandbox and gateway, always cleaning both up. */
async function withWorld<T>(
  options: { config?: string; rejectValues?: (value: string) => boolean },
  fn: (sandbox: Sandbox, gateway: Gateway) => Promise<T>,
): Promise<T> {
  const sandbox = new Sandbox()
  let gateway: Gateway | undefined
  try {
    if (options.config !== undefined) sandbox.writeConfig(options.config)
    gateway = await startGateway(options.rejectValues === undefined ? {} : { rejectValues: options.rejectValues })
    return await fn(sandbox, gateway)
  } finally {
    await gateway?.close()
    await sandbox.cleanup()
  }
}

test('claude + ccred get demo: the issued value goes out as Bearer and x-api-key, and is audited without the secret', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  await withWorld({}, async (sandbox, gateway) => {
    // No config file: the embedded default (profile demo) is what a fresh machine gets.
    const run = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: helperCommand(sandbox, 'get demo') },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    t.diagnostic(`claude run took ${run.durationMs} ms; gateway: ${describeRequests(gateway.requests)}`)
    assert.equal(run.code, 0, describeRun(run, sandbox))
    assert.match(run.stdout, /pong/)

    const sent = messages(gateway.requests)
    assert.ok(sent.length >= 1, `gateway saw no /v1/messages request: ${describeRequests(gateway.requests)}`)
    const value = sent[0]!.credential
    assert.ok(value !== undefined && DEMO_VALUE.test(value), `gateway credential ${JSON.stringify(value)} is not a ccred demo token`)
    for (const request of sent) {
      assert.equal(request.headers['authorization'], `Bearer ${value}`)
      assert.equal(request.headers['x-api-key'], value)
      assert.equal(request.status, 200)
    }

    // Another caller (this test, stdin not a TTY) asks afterwards: a cache hit, the same value.
    const cached = await sandbox.run(['get', 'demo', '--json'])
    assert.equal(cached.code, 0, cached.stderr)
    const json = JSON.parse(cached.stdout) as { value: string; served: string; profile: string; source: string }
    assert.equal(json.value, value, 'the gateway got the value the daemon holds for demo')
    assert.equal(json.served, 'hit')
    assert.equal(json.source, 'demo')

    const audit = sandbox.auditLog()
    assert.ok(!audit.includes(value), 'the audit log holds the secret')
    assert.ok(!sandbox.daemonLog().includes(value), 'the daemon log holds the secret')
    const issues = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'demo')
    const fromClaude = issues.filter((line) => line.callerPid === run.pid)
    assert.ok(fromClaude.length >= 1, `no audit "issue" line for the claude process ${run.pid}:\n${audit}`)
    for (const line of fromClaude) assert.match(String(line.callerCommand), /claude/i, `callerCommand of ${JSON.stringify(line)}`)
    assert.equal(fromClaude.length, 1, 'Claude Code runs the helper once at start-up')
    assert.equal(fromClaude[0]!.served, 'fetch', 'Claude Code\'s start-up run is the first fetch')
    t.diagnostic(`caller recorded as ${fromClaude[0]!.callerPid}/${fromClaude[0]!.callerCommand}; audit: ${issues.map((l) => `${l.served}@${l.callerCommand}`).join(', ')}`)
  })
})

test('claude + ccred: a 401 makes Claude Code re-run the helper and ccred re-issues a new value', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  let first: string | undefined
  const rejectValues = (value: string): boolean => {
    first ??= value
    return value === first
  }
  await withWorld({ config: '[profiles.demo]\nsource = "demo"\n', rejectValues }, async (sandbox, gateway) => {
    const run = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: helperCommand(sandbox, 'get demo', true) },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    t.diagnostic(`claude run took ${run.durationMs} ms; gateway: ${describeRequests(gateway.requests)}`)
    assert.equal(run.code, 0, describeRun(run, sandbox, describeRequests(gateway.requests)))
    assert.match(run.stdout, /pong/)

    const sent = messages(gateway.requests)
    assert.equal(sent.length, 2, `expected one 401 and one retry: ${describeRequests(gateway.requests)}`)
    const [rejected, retried] = sent as [RecordedRequest, RecordedRequest]
    assert.ok(rejected.credential !== undefined && DEMO_VALUE.test(rejected.credential), `first credential ${rejected.credential}`)
    assert.ok(retried.credential !== undefined && DEMO_VALUE.test(retried.credential), `second credential ${retried.credential}`)
    assert.equal(rejected.credential, first)
    assert.equal(rejected.status, 401)
    assert.equal(retried.status, 200)
    assert.notEqual(retried.credential, rejected.credential, 'the retry carried the rejected value again')
    assert.equal(retried.headers['x-api-key'], retried.credential)
    t.diagnostic(`retry ${retried.at - rejected.at} ms after the 401`)

    const issues = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'demo' && line.callerPid === run.pid)
    assert.deepEqual(issues.map((line) => line.served), ['fetch', 'reissue'], sandbox.auditLog())
    const audit = sandbox.auditLog()
    assert.ok(!audit.includes(rejected.credential) && !audit.includes(retried.credential), 'the audit log holds a secret')

    // The daemon now holds the re-issued value.
    const cached = await sandbox.run(['get', 'demo', '--json'])
    assert.equal(cached.code, 0, cached.stderr)
    assert.equal((JSON.parse(cached.stdout) as { value: string }).value, retried.credential)
  })
})

interface ProxyWorld {
  run: RunClaudeResult
  sandbox: Sandbox
  gateway: Gateway
  proxy: Proxy
}

const GW_KEY = 'sk-gw-static-5f1c2a'

function isDemoProxyAuthorization(value: string | undefined): boolean {
  return value !== undefined && value.startsWith('Bearer ccred-demo-')
}

/**
 * Claude Code behind a forward proxy that demands `Bearer ccred-demo-…` (or what
 * `requireProxyAuth` says), with ccred as proxyAuthHelper; the gateway demands GW_KEY, which
 * ccred's static profile gw reads from the environment Claude Code passes to the helper.
 */
async function proxyScenario(
  options: { config: string; proxyAuthHelper: (sandbox: Sandbox) => string; requireProxyAuth?: (value: string | undefined) => boolean },
  check: (world: ProxyWorld) => void,
): Promise<void> {
  await withWorld({ config: options.config, rejectValues: (value) => value !== GW_KEY }, async (sandbox, gateway) => {
    const proxy = await startForwardProxy({ upstreamPort: gateway.port, requireProxyAuth: options.requireProxyAuth ?? isDemoProxyAuthorization })
    try {
      const run = await runClaude({
        home: sandbox.home,
        settings: { proxyAuthHelper: options.proxyAuthHelper(sandbox), apiKeyHelper: helperCommand(sandbox, 'get gw') },
        env: claudeEnv(sandbox, {
          GW_KEY,
          CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER: '1',
          HTTP_PROXY: proxy.url,
          HTTPS_PROXY: proxy.url,
          NO_PROXY: '',
          ANTHROPIC_BASE_URL: `http://gateway.test:${gateway.port}`,
        }),
        timeoutMs: CLAUDE_TIMEOUT_MS,
      })
      check({ run, sandbox, gateway, proxy })
    } finally {
      await proxy.close()
    }
  })
}

function checkThroughProxy(t: SkipContext, proxyProfile: string, { run, sandbox, gateway, proxy }: ProxyWorld): void {
  const proxyLog = proxy.requests.map((r) => `${r.method} ${r.url} ${r.status ?? '-'} ${JSON.stringify(r.proxyAuthorization?.slice(0, 24))}`).join('; ')
  t.diagnostic(`claude run took ${run.durationMs} ms; proxy: ${proxyLog}`)
  assert.equal(run.code, 0, describeRun(run, sandbox, `proxy: ${proxyLog}\ngateway: ${describeRequests(gateway.requests)}`))
  assert.match(run.stdout, /pong/)

  const viaProxy = proxy.requests.filter((r) => r.url.includes('/v1/messages'))
  assert.ok(viaProxy.length >= 1, `proxy saw no /v1/messages request: ${proxyLog}`)
  for (const request of viaProxy) {
    const value = request.proxyAuthorization ?? ''
    assert.match(value, /^Bearer ccred-demo-[0-9a-f]{32}$/, `Proxy-Authorization ${JSON.stringify(value)}`)
    assert.equal(value.match(/bearer/gi)?.length, 1, 'the scheme appears exactly once')
    assert.equal(request.status, 200)
  }

  const sent = messages(gateway.requests)
  assert.ok(sent.length >= 1, `gateway saw no /v1/messages request: ${describeRequests(gateway.requests)}`)
  for (const request of sent) {
    assert.equal(request.headers['authorization'], `Bearer ${GW_KEY}`)
    assert.equal(request.headers['x-api-key'], GW_KEY)
    assert.equal(request.headers['host'], `gateway.test:${gateway.port}`, 'the request went through the proxy')
    assert.equal(request.headers['proxy-authorization'], undefined)
  }

  const audit = sandbox.auditLog()
  assert.ok(!audit.includes(GW_KEY), 'the audit log holds the gateway key')
  assert.ok(!audit.includes(viaProxy[0]!.proxyAuthorization!.slice('Bearer '.length)), 'the audit log holds the proxy token')
  const profiles = new Set(sandbox.auditLines().filter((line) => line.event === 'issue' && line.callerPid === run.pid).map((line) => line.profile))
  assert.ok(profiles.has('gw') && profiles.has(proxyProfile), `issues to claude for gw and ${proxyProfile}:\n${audit}`)
}

const PROXY_CONFIG = `
[profiles.demo]
source = "demo"

[profiles.gw]
source = "static"
value = "env:GW_KEY"
`

test('claude + ccred as proxyAuthHelper: CLAUDE_CODE_PROXY_URL makes get print "Bearer <token>" for Proxy-Authorization', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  await proxyScenario({ config: PROXY_CONFIG, proxyAuthHelper: (sandbox) => helperCommand(sandbox, 'get demo') }, (world) => checkThroughProxy(t, 'demo', world))
})

test('claude + ccred as proxyAuthHelper: header = "proxy-authorization" prints "Bearer <token>" without CLAUDE_CODE_PROXY_URL', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  const config = `${PROXY_CONFIG}
[profiles.px]
source = "demo"
header = "proxy-authorization"
`
  // `env -u` hides Claude Code's CLAUDE_CODE_PROXY_URL, so only the profile's header decides
  // (env is a pass-through program for caller detection, like sh).
  await proxyScenario(
    { config, proxyAuthHelper: (sandbox) => `env -u CLAUDE_CODE_PROXY_URL ${helperCommand(sandbox, 'get px')}` },
    (world) => checkThroughProxy(t, 'px', world),
  )
})

test('claude + ccred as proxyAuthHelper: a 407 makes Claude Code re-run the helper and ccred re-issues a new proxy token', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  let first: string | undefined
  const requireProxyAuth = (value: string | undefined): boolean => {
    if (value === undefined) return false
    first ??= value
    return value !== first && isDemoProxyAuthorization(value)
  }
  await proxyScenario({ config: PROXY_CONFIG, proxyAuthHelper: (sandbox) => helperCommand(sandbox, 'get demo'), requireProxyAuth }, ({ run, sandbox, gateway, proxy }) => {
    const viaProxy = proxy.requests.filter((r) => r.url.includes('/v1/messages'))
    const proxyLog = viaProxy.map((r) => `${r.method} ${r.status ?? '-'} ${JSON.stringify(r.proxyAuthorization?.slice(0, 24))}`).join('; ')
    t.diagnostic(`claude run took ${run.durationMs} ms; proxy: ${proxyLog}`)
    assert.equal(run.code, 0, describeRun(run, sandbox, `proxy: ${proxyLog}\ngateway: ${describeRequests(gateway.requests)}`))
    assert.match(run.stdout, /pong/)
    assert.equal(viaProxy.length, 2, `expected one 407 and one retry: ${proxyLog}\naudit:\n${sandbox.auditLog()}`)
    const [denied, retried] = viaProxy as [ProxyRequest, ProxyRequest]
    assert.equal(denied.proxyAuthorization, first)
    assert.equal(denied.status, 407)
    assert.equal(retried.status, 200)
    for (const request of viaProxy) assert.match(request.proxyAuthorization ?? '', /^Bearer ccred-demo-[0-9a-f]{32}$/)
    assert.notEqual(retried.proxyAuthorization, denied.proxyAuthorization, 'the retry carried the refused proxy token again')
    t.diagnostic(`retry ${retried.at - denied.at} ms after the 407`)
    // Claude Code (2.1.330) runs the proxy helper twice at start-up: those are a fetch and
    // hits, never a re-issue (no challenge); the 407 re-run is the one re-issue.
    const served = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'demo' && line.callerPid === run.pid).map((line) => line.served)
    assert.deepEqual(served.filter((how) => how !== 'hit'), ['fetch', 'reissue'], sandbox.auditLog())
    assert.equal(served.at(-1), 'reissue', sandbox.auditLog())
  })
})

test('claude + ccred get <unknown profile>: the ccred error line reaches Claude Code, the gateway gets no credential', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  await withWorld({ config: '[profiles.demo]\nsource = "demo"\n' }, async (sandbox, gateway) => {
    const run = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: helperCommand(sandbox, 'get nosuch') },
      // No retries: an empty key gets 401 and each retry would re-run the helper.
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url, CLAUDE_CODE_MAX_RETRIES: '0' }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    t.diagnostic(`claude run took ${run.durationMs} ms; gateway: ${describeRequests(gateway.requests)}`)
    const details = describeRun(run, sandbox, `gateway: ${describeRequests(gateway.requests)}`)

    // Observed (Claude Code 2.1.330): exit 1, a generic notice on stdout, and on stderr one
    // "apiKeyHelper failed: exited <status>: <helper stderr>" line per helper run.
    assert.equal(run.code, 1, details)
    assert.match(run.stdout, /apiKeyHelper script is failing/, details)
    const failures = run.stderr.split('\n').filter((line) => line.startsWith('apiKeyHelper failed:'))
    assert.ok(failures.length >= 1, details)
    for (const line of failures) {
      assert.match(
        line,
        /^apiKeyHelper failed: exited 4: ccred: no profile named "nosuch" in \S+config\.toml \[ERR_PROFILE_UNKNOWN\] — profiles in the config: demo; or add \[profiles\.nosuch\] to \S+config\.toml$/,
        'one ccred error line: message, code, hint; exit status 4',
      )
    }

    // A failing helper does not stop the request: Claude Code sends an empty credential.
    const sent = messages(gateway.requests)
    assert.ok(sent.length >= 1, details)
    for (const request of sent) {
      const authorization = String(request.headers['authorization'] ?? '')
      const apiKey = String(request.headers['x-api-key'] ?? '')
      assert.equal(request.credential, undefined, `gateway extracted ${JSON.stringify(request.credential)}`)
      assert.match(authorization, /^Bearer\s*$/, `authorization ${JSON.stringify(authorization)}`)
      assert.equal(apiKey.trim(), '', `x-api-key ${JSON.stringify(apiKey)}`)
      assert.ok(!/[\r\n]/.test(authorization + apiKey), 'a multi-line credential')
      assert.equal(request.status, 401)
    }
    assert.equal(sent.length, failures.length, 'one helper run before each request')
    assert.ok(!sandbox.auditLines().some((line) => line.profile === 'nosuch' && line.event === 'issue'), sandbox.auditLog())
  })
})
