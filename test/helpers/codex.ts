// The real OpenAI Codex CLI (npm @openai/codex: a JS launcher around a native binary) run
// headless with `codex exec` against loopback test servers, with its own CODEX_HOME.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { repoRoot } from './claude.js'
import type { SkipContext } from './claude-world.js'
import type { Sandbox } from './sandbox.js'

/** Path of the Codex launcher; CCRED_CODEX_BIN overrides node_modules/.bin/codex. */
export function codexBin(): string {
  return process.env.CCRED_CODEX_BIN ?? join(repoRoot(), 'node_modules', '.bin', process.platform === 'win32' ? 'codex.cmd' : 'codex')
}

/** Skips (with the reason) when the real Codex cannot run here. */
export function codexMissing(t: SkipContext): boolean {
  if (existsSync(codexBin())) return false
  const reason = `no Codex CLI at ${codexBin()} (npm ci installs @openai/codex)`
  t.diagnostic(`skipped: ${reason}`)
  t.skip(reason)
  return true
}

/**
 * The part of config.toml every test shares: a model provider at the test server, no update
 * check, no analytics or feedback (nothing leaves the machine), then `extra` tables.
 */
export function codexConfig(options: { baseUrl: string; providerId?: string; auth?: string; extra?: string }): string {
  const id = options.providerId ?? 'gw'
  return [
    'model = "stub-model"',
    `model_provider = "${id}"`,
    'check_for_update_on_startup = false',
    '[analytics]',
    'enabled = false',
    '[feedback]',
    'enabled = false',
    `[model_providers.${id}]`,
    'name = "Gateway"',
    `base_url = "${options.baseUrl}"`,
    'wire_api = "responses"',
    ...(options.auth === undefined ? [] : [`[model_providers.${id}.auth]`, options.auth]),
    options.extra ?? '',
    '',
  ].join('\n')
}

/** A TOML basic string (the helper paths and arguments tests write). */
export function tomlString(text: string): string {
  return JSON.stringify(text)
}

export interface CodexRun {
  code: number | null
  stdout: string
  stderr: string
  pid: number
}

/**
 * Writes `config` (unless null) as $CODEX_HOME/config.toml in the sandbox's HOME and runs `codex exec`
 * there. The environment is built from scratch: the sandbox's (XDG dirs, runtime dir) plus a
 * PATH whose first entry holds this node, so the CLI's `#!/usr/bin/env node` resolves.
 */
export async function runCodex(sandbox: Sandbox, config: string | null, options: { prompt?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CodexRun> {
  const codexHome = join(sandbox.home, '.codex')
  mkdirSync(codexHome, { recursive: true })
  // null: the config.toml already there (written by ccred setup codex) is used as it is.
  if (config !== null) writeFileSync(join(codexHome, 'config.toml'), config)
  const env: Record<string, string> = {
    ...sandbox.env,
    CODEX_HOME: codexHome,
    PATH: [dirname(process.execPath), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(delimiter),
    ...options.env,
  }
  const child = spawn(codexBin(), ['exec', '--skip-git-repo-check', '--ephemeral', '-s', 'read-only', options.prompt ?? 'say hi'], {
    cwd: sandbox.home, env, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)))
  clearTimeout(timer)
  return { code, stdout, stderr, pid: child.pid! }
}

export function describeCodexRun(run: CodexRun, sandbox: Sandbox, extra = ''): string {
  return [`codex: exit ${run.code}`, `stdout: ${run.stdout.trim()}`, `stderr: ${run.stderr.trim().slice(-3000)}`, `audit log:\n${sandbox.auditLog().trim()}`, `daemon log:\n${sandbox.daemonLog().trim()}`, extra].join('\n')
}

/**
 * The profile every Codex test serves: a jwt profile `gw` (ES256, 15-minute tokens for the
 * audience codex-gateway) whose key lives in the file store, so no Secret Service is needed.
 */
export const CODEX_GATEWAY_PROFILE = `
[broker]
store = "file"

[profiles.gw]
source = "jwt"
[profiles.gw.jwt]
algorithm = "ES256"
key = "keychain:gw-key"
lifetime = "15m"
claims = { iss = "ccred", aud = "codex-gateway", sub = "\${USER}" }
`

/** A sandbox with CODEX_GATEWAY_PROFILE and its signing key made as a user makes it (`ccred jwt keygen`). */
export async function sandboxWithGatewayProfile(sandbox: Sandbox): Promise<Sandbox> {
  sandbox.writeConfig(CODEX_GATEWAY_PROFILE)
  const keygen = await sandbox.run(['jwt', 'keygen', 'gw-key', '--alg', 'ES256'])
  if (keygen.code !== 0) throw new Error(`jwt keygen failed: ${keygen.stderr}`)
  return sandbox
}
