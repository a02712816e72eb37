// The real Claude Code in Bedrock mode with `awsCredentialExport` = the real `ccred aws-export`:
// the daemon holds AWS credentials from a loopback container-credentials endpoint, Claude Code
// signs its Bedrock calls with them (SigV4), and a Bedrock runtime stub on loopback checks whose
// access key signed each request.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { AwsKeyring, startBedrockRuntime, startContainerCredentials, type BedrockRequest } from '../helpers/aws-servers.js'
import { runClaude, type RunClaudeResult } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, shQuote } from '../helpers/claude-world.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = CLAUDE_TIMEOUT_MS + 30_000
const CONTAINER_TOKEN = 'ecs-agent-token-e2e'

/** A sandbox whose daemon gets its AWS credentials from the loopback container endpoint. */
function daemonSandbox(containerUrl: string): Sandbox {
  return new Sandbox({
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${containerUrl}/v2/credentials/e2e`,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: CONTAINER_TOKEN,
  })
}

function describe(run: RunClaudeResult, sandbox: Sandbox, requests: BedrockRequest[]): string {
  return [
    `claude: code=${run.code} signal=${run.signal} timedOut=${run.timedOut} ${run.durationMs} ms`,
    `stdout: ${run.stdout.trim()}`,
    `stderr: ${run.stderr.trim()}`,
    `bedrock: ${requests.map((r) => `${r.method} ${r.path} ${r.status} key=${r.accessKeyId ?? '-'} sig=${r.signatureValid}`).join('; ')}`,
    `audit log:\n${sandbox.auditLog().trim()}`,
    `daemon log:\n${sandbox.daemonLog().trim()}`,
  ].join('\n')
}

test('claude (Bedrock mode) + ccred aws-export: requests are SigV4-signed with the credentials ccred exported', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  const keyring = new AwsKeyring()
  const container = await startContainerCredentials({ keyring, authorizationToken: CONTAINER_TOKEN })
  // Only ccred's daemon can reach the container endpoint, so its keys are the ones ccred exported.
  const bedrock = await startBedrockRuntime({ keyring, accept: (request) => container.issued.some((key) => key.accessKeyId === request.accessKeyId) })
  // The daemon gets the AWS environment; Claude Code does not (it must use what ccred exports).
  const sandbox = daemonSandbox(container.url)
  try {
    sandbox.writeConfig('[profiles.bedrock]\nsource = "aws"\n')
    const started = await sandbox.run(['daemon', 'start'])
    assert.equal(started.code, 0, started.stderr)
    // Claude Code's settings come from ccred setup claude: awsCredentialExport, Bedrock mode, the endpoint.
    const setup = await sandbox.run(['setup', 'claude', 'bedrock', '--mode', 'bedrock', '--gateway', bedrock.url])
    assert.equal(setup.code, 0, setup.stderr)
    const settings = JSON.parse(readFileSync(join(sandbox.home, '.claude', 'settings.json'), 'utf8')) as { awsCredentialExport?: string; apiKeyHelper?: string; env: Record<string, string> }
    assert.match(settings.awsCredentialExport ?? '', / aws-export bedrock$/)
    assert.equal(settings.apiKeyHelper, undefined)
    assert.equal(settings.env.CLAUDE_CODE_SKIP_BEDROCK_AUTH, undefined, 'Claude Code signs with the exported credentials itself')
    const run = await runClaude({
      home: sandbox.home,
      env: claudeEnv(sandbox, { AWS_REGION: 'us-east-1' }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    t.diagnostic(describe(run, sandbox, bedrock.requests).split('\n').slice(0, 4).join(' | '))
    const invocations = bedrock.requests.filter((r) => r.method === 'POST' && /\/model\/[^/]+\/invoke/.test(r.path))
    assert.ok(invocations.length >= 1, describe(run, sandbox, bedrock.requests))
    assert.equal(container.issued.length, 1, 'ccred fetched the credentials once')
    const exported = container.issued[0]!
    for (const request of invocations) {
      assert.equal(request.accessKeyId, exported.accessKeyId, 'signed with the access key ccred exported')
      assert.equal(request.region, 'us-east-1')
      assert.equal(request.service, 'bedrock')
      assert.equal(request.signatureValid, true, 'the signature recomputed with the exported secret matches')
      assert.equal(request.status, 200)
    }
    assert.equal(run.code, 0, describe(run, sandbox, bedrock.requests))
    assert.match(run.stdout, /pong/)

    const issues = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'bedrock')
    assert.ok(issues.length >= 1, sandbox.auditLog())
    assert.ok(issues.every((line) => line.source === 'aws'))
    t.diagnostic(`aws-export runs: ${issues.map((line) => `${line.served}@${line.callerCommand}`).join(', ')}`)
    for (const secret of [exported.secretAccessKey, exported.sessionToken!]) {
      assert.ok(!sandbox.auditLog().includes(secret) && !sandbox.daemonLog().includes(secret), 'no secret in the logs')
      assert.ok(!run.stdout.includes(secret), 'no secret in Claude Code\'s output')
    }
  } finally {
    await Promise.all([container.close(), bedrock.close()])
    await sandbox.cleanup()
  }
})

test('claude (Bedrock mode) with a ccred Bedrock API key: from `ccred env` (AWS_BEARER_TOKEN_BEDROCK) and as apiKeyHelper', { timeout: 2 * TEST_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  const keyring = new AwsKeyring()
  const container = await startContainerCredentials({ keyring, authorizationToken: CONTAINER_TOKEN })
  let issuedKey: string | undefined
  const bedrock = await startBedrockRuntime({ keyring, accept: (request) => request.bearer !== undefined && request.bearer === issuedKey })
  const sandbox = daemonSandbox(container.url)
  try {
    sandbox.writeConfig('[profiles.bedrock-key]\nsource = "aws"\n[profiles.bedrock-key.aws]\ntoken = "bedrock-api-key"\nregion = "us-east-1"\n')
    const env = await sandbox.run(['env', 'bedrock-key'])
    assert.equal(env.code, 0, env.stderr)
    issuedKey = /^export AWS_BEARER_TOKEN_BEDROCK='(bedrock-api-key-[A-Za-z0-9+/=]+)'\n$/.exec(env.stdout)?.[1]
    assert.ok(issuedKey, env.stdout.slice(0, 40))

    const viaEnv = await runClaude({
      home: sandbox.home,
      settings: {},
      env: claudeEnv(sandbox, { CLAUDE_CODE_USE_BEDROCK: '1', ANTHROPIC_BEDROCK_BASE_URL: bedrock.url, AWS_REGION: 'us-east-1', AWS_BEARER_TOKEN_BEDROCK: issuedKey }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    assert.equal(viaEnv.code, 0, describe(viaEnv, sandbox, bedrock.requests))
    assert.match(viaEnv.stdout, /pong/)
    const before = bedrock.requests.length
    const viaHelper = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: `${shQuote(sandbox.cliPath)} get bedrock-key` },
      env: claudeEnv(sandbox, { CLAUDE_CODE_USE_BEDROCK: '1', CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1', ANTHROPIC_BEDROCK_BASE_URL: bedrock.url, AWS_REGION: 'us-east-1' }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    assert.equal(viaHelper.code, 0, describe(viaHelper, sandbox, bedrock.requests))
    assert.match(viaHelper.stdout, /pong/)
    const invocations = bedrock.requests.filter((r) => r.method === 'POST' && /\/model\/[^/]+\/invoke/.test(r.path))
    assert.ok(invocations.length >= 2)
    assert.ok(invocations.every((r) => r.bearer === issuedKey && r.status === 200), 'every call carried the key ccred made')
    assert.ok(bedrock.requests.slice(before).some((r) => r.bearer === issuedKey), 'the helper run sent it too')
    assert.ok(!sandbox.auditLog().includes(issuedKey) && !sandbox.daemonLog().includes(issuedKey))
  } finally {
    await Promise.all([container.close(), bedrock.close()])
    await sandbox.cleanup()
  }
})
