// What every end-to-end test with the real Claude Code needs: skip with the reason when it
// cannot run, the helper command as settings.json holds it, the environment that points the
// helper (and the daemon it autostarts) at the sandbox, and a failure description.
import assert from 'node:assert/strict'
import { delimiter, dirname } from 'node:path'
import { claudeAvailable, type RunClaudeResult } from './claude.js'
import type { Sandbox } from './sandbox.js'

export interface SkipContext {
  skip(message?: string): void
  diagnostic(message: string): void
}

/** Skips (with the reason) when the real Claude Code cannot run here. */
export function claudeMissing(t: SkipContext): boolean {
  const availability = claudeAvailable()
  if (availability.ok) return false
  t.diagnostic(`skipped: ${availability.reason}`)
  t.skip(availability.reason)
  return true
}

export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** `<cli> get <profile>` as Claude Code's settings hold it; `withNode` prefixes the absolute node. */
export function helperCommand(sandbox: Sandbox, args: string, withNode = false): string {
  return `${withNode ? `${shQuote(process.execPath)} ` : ''}${shQuote(sandbox.cliPath)} ${args}`
}

/**
 * What Claude Code needs so that the helper (and the daemon it autostarts) use the sandbox:
 * the XDG directories and runtime dir, and a PATH whose first entry holds this node (the
 * CLI's `#!/usr/bin/env node` shebang). HOME is the sandbox's HOME (runClaude sets it).
 */
export function claudeEnv(sandbox: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of ['XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_DATA_HOME', 'CCRED_RUNTIME_DIR']) {
    const value = sandbox.env[name]
    assert.ok(value, `sandbox env lacks ${name}`)
    env[name] = value
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(delimiter)
  // So a daemon a helper starts is known as this sandbox's (cleanup, the suite's leak check).
  return { ...env, ...sandbox.markEnv, ...extra }
}

export function describeRun(run: RunClaudeResult, sandbox: Sandbox, extra = ''): string {
  return [
    `claude: code=${run.code} signal=${run.signal} timedOut=${run.timedOut} ${run.durationMs} ms`,
    `stdout: ${run.stdout.trim()}`,
    `stderr: ${run.stderr.trim()}`,
    `audit log:\n${sandbox.auditLog().trim()}`,
    `daemon log:\n${sandbox.daemonLog().trim()}`,
    extra,
  ].join('\n')
}
