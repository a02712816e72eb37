import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { callerMarks, helperContext, helperHook, isClaudeCodeHelperRun } from '../../src/claude/helper-context.js'

/** The rule as the daemon applies it: the client's environment marks plus the caller's process name. */
function isClaudeCode(env: Record<string, string>, callerCommand?: string): boolean {
  return isClaudeCodeHelperRun(callerMarks(env), callerCommand)
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
    assert.equal(isClaudeCodeHelperRun(undefined, undefined), false, 'a request without caller marks (curl)')
    assert.equal(isClaudeCodeHelperRun(undefined, 'claude'), true)
  })

  it('CLAUDE_CODE_ENTRYPOINT without CLAUDECODE marks a helper run of a release without AI_AGENT', () => {
    assert.equal(isClaudeCode({ CLAUDE_CODE_ENTRYPOINT: 'cli' }, 'bash-wrapper'), true)
  })

  it('the hook: proxyAuthHelper by CLAUDE_CODE_PROXY_URL, an MCP headersHelper by CLAUDE_CODE_MCP_SERVER_NAME, else apiKeyHelper', () => {
    assert.equal(helperHook({}), 'apiKeyHelper')
    assert.equal(helperHook({ CLAUDE_CODE_PROXY_URL: 'http://proxy:3128' }), 'proxyAuthHelper')
    assert.equal(helperHook({ CLAUDE_CODE_MCP_SERVER_NAME: 'docs', CLAUDE_CODE_MCP_SERVER_URL: 'http://mcp/' }), 'headersHelper')
    assert.equal(helperHook({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel' }), 'apiKeyHelper', 'otelHeadersHelper has no mark of its own')
  })

  it('the marks carry names only: never the messaging token or any other value of Claude Code', () => {
    const marks = callerMarks({ AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'cli', CLAUDE_CODE_MESSAGING_TOKEN: 'do-not-forward', CLAUDE_CODE_MESSAGING_SOCKET: '/tmp/s' })
    assert.deepEqual(marks, { hook: 'apiKeyHelper', aiAgent: 'claude-code_2-1-330_harness', entrypoint: 'cli' })
  })

  it('the TTL variable follows the hook (one rule for get, doctor and setup)', () => {
    const env = { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '1000', CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS: '2000' }
    assert.equal(helperContext(env).callerTtlMs, 1000)
    assert.equal(helperContext({ ...env, CLAUDE_CODE_PROXY_URL: 'http://p:1' }).callerTtlMs, 2000)
    assert.equal(helperContext({}).callerTtlMs, 300_000)
  })
})
