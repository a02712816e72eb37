import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CallerFacts } from '../../src/callers/caller.js'
import { helperContext, helperHook, isClaudeCodeHelperRun } from '../../src/callers/claude-code.js'
import { callerKindFor, gatherMarks, identityDigest } from '../../src/callers/registry.js'

/** The rule as the daemon applies it: the marks the client sends, plus the caller's process name. */
function isClaudeCode(env: Record<string, string>, callerCommand?: string): boolean {
  const facts: CallerFacts = { marks: gatherMarks(env), headerSet: false, interactive: false, ...(callerCommand === undefined ? {} : { process: { pid: 9, command: callerCommand } }) }
  return callerKindFor(facts).name === 'claude-code'
}

describe('who ran ccred get: Claude Code or something else', () => {
  it('Claude Code 2.1.330+ helper run: AI_AGENT …_harness without CLAUDECODE', () => {
    assert.equal(isClaudeCode({ AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'sdk-cli' }, 'claude'), true)
    assert.equal(isClaudeCode({ AI_AGENT: 'claude-code_2-1-330_harness' }), true, 'the marks suffice without the process name')
    assert.equal(isClaudeCode({ AI_AGENT: 'claude-code_2-1-330_harness' }, 'node'), true, 'run through a wrapper that is not a shell')
  })

  it("the agent's Bash tool (a script Claude Code's agent runs) is not a helper run", () => {
    assert.equal(isClaudeCode({ AI_AGENT: 'claude-code_2-1-330_agent', CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli' }, 'claude'), false)
    assert.equal(isClaudeCode({ AI_AGENT: 'claude-code_2-1-330_agent' }, 'claude'), false, '_agent alone')
    assert.equal(isClaudeCode({ AI_AGENT: 'claude-code_2-1-330_harness', CLAUDECODE: '1' }, 'claude'), false, 'CLAUDECODE=1 wins over _harness')
    assert.equal(isClaudeCode({ CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli' }, 'claude'), false, 'an older release: CLAUDECODE=1 alone')
  })

  it('another agent is not Claude Code, whatever its parent is called', () => {
    assert.equal(isClaudeCode({ AI_AGENT: 'some-other-agent_1_harness' }, 'claude'), false)
  })

  it('no marks at all: Claude Code only when the nearest non-shell ancestor is the claude process (releases before the marks)', () => {
    assert.equal(isClaudeCode({}, 'claude'), true)
    assert.equal(isClaudeCode({}, 'make'), false)
    assert.equal(isClaudeCode({}, 'node'), false)
    assert.equal(isClaudeCode({}), false, 'the daemon could not name the caller')
    assert.equal(isClaudeCodeHelperRun({}, undefined), false, 'a request without caller marks (curl)')
    assert.equal(isClaudeCodeHelperRun({}, 'claude'), true)
  })

  it('CLAUDE_CODE_ENTRYPOINT without CLAUDECODE marks a helper run of a release without AI_AGENT', () => {
    assert.equal(isClaudeCode({ CLAUDE_CODE_ENTRYPOINT: 'cli' }, 'bash-wrapper'), true)
  })

  it('the hook: proxyAuthHelper by CLAUDE_CODE_PROXY_URL, an MCP headersHelper by CLAUDE_CODE_MCP_SERVER_NAME, else apiKeyHelper', () => {
    assert.equal(helperHook({}), 'apiKeyHelper')
    assert.equal(helperHook({ CLAUDE_CODE_PROXY_URL: 'http://proxy:3128' }), 'proxyAuthHelper')
    assert.equal(helperHook({ CLAUDE_CODE_MCP_SERVER_NAME: 'docs', CLAUDE_CODE_MCP_SERVER_URL: 'http://mcp/' }), 'headersHelper')
    assert.equal(helperHook({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel' }), 'apiKeyHelper', 'otelHeadersHelper has no mark of its own')
    assert.equal(helperHook(gatherMarks({ CLAUDE_CODE_PROXY_URL: 'http://proxy:3128' })), 'proxyAuthHelper', 'the same hook from the marks the daemon gets')
    assert.equal(helperHook(gatherMarks({ CLAUDE_CODE_PROXY_URL: '' })), 'apiKeyHelper', 'an empty variable reads as unset, as in the environment')
  })

  it('the marks carry names, bounded values and digests: never the messaging token, a proxy URL or the socket path', () => {
    const marks = gatherMarks({
      AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'cli', CLAUDE_CODE_MESSAGING_TOKEN: 'do-not-forward',
      CLAUDE_CODE_MESSAGING_SOCKET: '/tmp/claude-sock-1', CLAUDE_CODE_PROXY_URL: 'http://user:secret@proxy:3128', HOME: '/home/u', AWS_SECRET_ACCESS_KEY: 'no',
    })
    assert.deepEqual(Object.keys(marks).sort(), ['AI_AGENT', 'CLAUDE_CODE_ENTRYPOINT', 'CLAUDE_CODE_MESSAGING_SOCKET', 'CLAUDE_CODE_PROXY_URL'])
    assert.equal(marks.CLAUDE_CODE_PROXY_URL, '1')
    assert.match(marks.CLAUDE_CODE_MESSAGING_SOCKET!, /^[0-9a-f]{16}$/)
    assert.doesNotMatch(JSON.stringify(marks), /do-not-forward|secret|claude-sock/)
    assert.equal(gatherMarks({ AI_AGENT: 'x'.repeat(5000) }).AI_AGENT!.length, 100, 'a value is cut short')
    assert.equal(identityDigest('a'), 'af63dc4c8601ec8c', 'FNV-1a 64 (its published test vector)')
    assert.equal(marks.CLAUDE_CODE_MESSAGING_SOCKET, identityDigest('/tmp/claude-sock-1'))
  })

  it('the TTL variable follows the hook (one rule for get, doctor and setup)', () => {
    const env = { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '1000', CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS: '2000' }
    assert.equal(helperContext(env).callerTtlMs, 1000)
    assert.equal(helperContext({ ...env, CLAUDE_CODE_PROXY_URL: 'http://p:1' }).callerTtlMs, 2000)
    assert.equal(helperContext({}).callerTtlMs, 300_000)
  })
})
