// The real Gemini CLI, OpenCode and Claude Code, run by `ccred exec --relay` against a
// loopback upstream speaking their API (test/helpers/llm-upstream.ts). None of them can
// refresh a key by itself (docs/agents-facts.md); through the relay, the upstream token
// rotates after the session's first answer (the old one then gets 401) and the session
// goes on: the relay re-issues and retries, the client sees only 200s.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { baseEnv, claudeAvailable, claudeBin, repoRoot } from '../helpers/claude.js'
import { startLlmUpstream, type LlmUpstream, type UpstreamRequest } from '../helpers/llm-upstream.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLIENT_TIMEOUT_MS = 120_000

const COUNTER_SCRIPT = (counter: string) => `#!/bin/sh
n=$(( $(cat ${counter} 2>/dev/null || echo 0) + 1 ))
echo $n > ${counter}
echo "tok-$n"
`

const worlds: { box: Sandbox; upstream: LlmUpstream }[] = []
after(async () => {
  for (const world of worlds) {
    await world.box.cleanup()
    await world.upstream.close()
  }
})

/** A sandbox whose profile `gw` yields tok-1, tok-2, … into `header`, and an upstream that rotates to tok-2 after its first 200. */
async function world(header: string, prefix: string, headersToml: string): Promise<{ box: Sandbox; upstream: LlmUpstream }> {
  const box = new Sandbox()
  let rotated = false
  const upstream = await startLlmUpstream({
    header,
    prefix,
    accepted: 'tok-1',
    onAnswered: (request, self) => {
      if (!rotated && request.status === 200) {
        rotated = true
        self.accepted = 'tok-2'
      }
    },
  })
  const script = box.writeScript('token.sh', COUNTER_SCRIPT(box.file('counter')))
  box.writeConfig(`[profiles.gw]\nsource = "exec"\ncommand = ["${script}"]\nheaders = ${headersToml}\n`)
  const created = { box, upstream }
  worlds.push(created)
  return created
}

function describeRequests(requests: UpstreamRequest[]): string {
  return requests.map((r) => `${r.method} ${r.path} ${r.status}`).join('; ')
}

/** The session went on across the rotation: a 401 for tok-1 after a 200, then 200s with tok-2, and no request reached the upstream with the local key. */
function assertRotatedMidSession(requests: UpstreamRequest[], header: string, prefix: string): void {
  const statuses = requests.map((r) => `${r.status} ${String(r.headers[header])}`)
  const first200 = statuses.indexOf(`200 ${prefix}tok-1`)
  assert.ok(first200 >= 0, `a first answer with tok-1: ${statuses.join(', ')}`)
  assert.equal(statuses[first200 + 1], `401 ${prefix}tok-1`, `then the old token refused: ${statuses.join(', ')}`)
  assert.equal(statuses[first200 + 2], `200 ${prefix}tok-2`, `then the same request again with the new one: ${statuses.join(', ')}`)
  assert.ok(requests.every((r) => r.status !== 401 || r.headers[header] === `${prefix}tok-1`), 'only the rotated-out token was refused')
}

function binary(name: string): string | undefined {
  const path = join(repoRoot(), 'node_modules', '.bin', name)
  return existsSync(path) ? path : undefined
}

describe('real clients through ccred exec --relay', () => {
  it('Gemini CLI: x-goog-api-key injected, its own key removed, streamGenerateContent SSE, the token rotates between two runs', { timeout: CLIENT_TIMEOUT_MS + 30_000, skip: binary('gemini') === undefined && 'npm install (@google/gemini-cli)' }, async () => {
    const { box, upstream } = await world('x-goog-api-key', '', '{ "x-goog-api-key" = "${token}" }')
    mkdirSync(join(box.home, '.gemini'), { recursive: true })
    writeFileSync(join(box.home, '.gemini', 'settings.json'), JSON.stringify({
      security: { auth: { selectedType: 'gemini-api-key' } }, privacy: { usageStatisticsEnabled: false }, telemetry: { enabled: false }, general: { disableAutoUpdate: true, disableUpdateNag: true },
    }))
    // `gemini -p` makes one request per run, so the rotation falls between two runs: the
    // second starts with the daemon's cached tok-1, which the upstream now refuses.
    for (const prompt of ['say hi', 'say hi again']) {
      const ran = await box.run(['exec', '--relay', 'gw', '--for', 'gemini', '--upstream', upstream.url, '--', binary('gemini')!, '-p', prompt, '-m', 'stub-model'], {
        env: { GEMINI_CLI_TRUST_WORKSPACE: 'true' }, timeoutMs: CLIENT_TIMEOUT_MS, cwd: box.home,
      })
      assert.equal(ran.code, 0, `${ran.stderr}\n${describeRequests(upstream.requests)}`)
      assert.match(ran.stdout, /pong from upstream/)
    }
    assert.ok(upstream.requests.some((r) => /\/v1beta\/models\/stub-model:streamGenerateContent\?alt=sse$/.test(r.path)), describeRequests(upstream.requests))
    assertRotatedMidSession(upstream.requests, 'x-goog-api-key', '')
    assert.ok(upstream.requests.every((r) => r.headers.authorization === undefined), 'Gemini\'s own key header never reaches the upstream')
  })

  it('OpenCode: Authorization injected through its openai-compatible provider ({env:OPENAI_BASE_URL}, {env:OPENAI_API_KEY}), chat completions SSE, the token rotates mid-session', { timeout: CLIENT_TIMEOUT_MS + 30_000, skip: binary('opencode') === undefined && 'needs OpenCode: npm install --no-save opencode-ai@1.18.33 (.ci/run does)' }, async () => {
    const { box, upstream } = await world('authorization', 'Bearer ', '{ Authorization = "Bearer ${token}" }')
    const config = join(box.root, 'opencode.json')
    writeFileSync(config, JSON.stringify({
      $schema: 'https://opencode.ai/config.json', autoupdate: false, share: 'disabled',
      provider: { stub: { npm: '@ai-sdk/openai-compatible', name: 'Stub', options: { baseURL: '{env:OPENAI_BASE_URL}', apiKey: '{env:OPENAI_API_KEY}' }, models: { 'stub-model': { name: 'Stub Model' } } } },
    }))
    const ran = await box.run(['exec', '--relay', 'gw', '--for', 'opencode', '--upstream', `${upstream.url}/v1`, '--', binary('opencode')!, 'run', '-m', 'stub/stub-model', 'say hi'], {
      env: { OPENCODE_CONFIG: config, OPENCODE_DISABLE_MODELS_FETCH: '1', OPENCODE_DISABLE_AUTOUPDATE: '1', OPENCODE_DISABLE_SHARE: '1', XDG_CACHE_HOME: join(box.home, '.cache') },
      timeoutMs: CLIENT_TIMEOUT_MS, cwd: box.home,
    })
    assert.equal(ran.code, 0, `${ran.stderr}\n${describeRequests(upstream.requests)}`)
    assert.match(ran.stdout + ran.stderr, /pong from upstream/)
    assert.ok(upstream.requests.filter((r) => r.path === '/v1/chat/completions').length >= 2, describeRequests(upstream.requests))
    assertRotatedMidSession(upstream.requests, 'authorization', 'Bearer ')
  })

  it('Claude Code: a dynamic custom header (x-litellm-api-key, Bearer) from ANTHROPIC_BASE_URL + ANTHROPIC_AUTH_TOKEN, the token rotates mid-session', { timeout: CLIENT_TIMEOUT_MS + 30_000 }, async (t) => {
    const available = claudeAvailable()
    if (!available.ok) return t.skip(available.reason)
    const { box, upstream } = await world('x-litellm-api-key', 'Bearer ', '{ "x-litellm-api-key" = "Bearer ${token}" }')
    const env = baseEnv(box.home)
    // One session, two turns (stream-json on stdin): the token rotates after the first answer.
    const turns = ['ping', 'ping again'].map((content) => JSON.stringify({ type: 'user', message: { role: 'user', content } })).join('\n') + '\n'
    const ran = await box.run(['exec', '--relay', 'gw', '--for', 'anthropic', '--upstream', upstream.url, '--', claudeBin(), '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--model', 'claude-sonnet-4-5'], {
      env: { ...env, HOME: box.home }, timeoutMs: CLIENT_TIMEOUT_MS, cwd: box.home, input: turns,
    })
    assert.equal(ran.code, 0, `${ran.stderr}\n${ran.stdout}\n${describeRequests(upstream.requests)}`)
    assert.equal(ran.stdout.match(/"type":"result"/g)?.length, 2, ran.stdout.slice(-2000))
    assert.match(ran.stdout, /pong from upstream/)
    assertRotatedMidSession(upstream.requests, 'x-litellm-api-key', 'Bearer ')
    assert.ok(upstream.requests.every((r) => r.headers.authorization === undefined && r.headers['x-api-key'] === undefined), 'Claude Code\'s own key header never reaches the upstream')
  })
})
