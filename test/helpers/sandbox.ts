import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { isProcessAlive } from '../../src/rendezvous/process-alive.js'
import { repoRoot } from './claude.js'

/**
 * The marks Claude Code (2.1.330+) puts in the environment of a helper it runs
 * (docs/agents-facts.md#every-helper-how-to-tell-claude-code-from-a-script). Only with them is an early re-run read as a 401;
 * tests that expect a re-issue from a re-run pass these. The sandbox's own
 * environment is built from scratch, so marks inherited from a Claude Code session
 * that runs the suite (AI_AGENT, CLAUDECODE, CLAUDE_CODE_*) never reach the CLI.
 */
export const CLAUDE_CODE_HELPER_ENV: Readonly<Record<string, string>> = { AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'sdk-cli' }

/** A parent process that is not a shell: runs the CLI and exits with its status. */
const DISTINCT_CALLER = `const r = require('node:child_process').spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit' }); process.exit(r.status ?? 1)`

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * A private world for one test: its own HOME, XDG dirs, config file and runtime
 * directory, so the real daemon started by the real CLI never meets another test's.
 */
export interface RunningCli {
  /** Resolves when the command exits. */
  done: Promise<CliResult>
  stderr(): string
  /** Resolves with the first match of `pattern` in stderr so far or to come. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
}

export interface AuditLine {
  event: string
  profile: string
  served?: string
  callerPid?: number
  callerCommand?: string
  [key: string]: unknown
}

/**
 * Set by test/run.ts for one run of the suite and carried into every sandbox's environment
 * (so into every daemon it starts): after the run, a `ccred daemon run` that still has this
 * mark in its environment outlived its test. Other people's daemons on a shared machine lack it.
 */
export const TEST_RUN_MARK = 'CCRED_TEST_RUN'
/** Each sandbox's own mark (its root directory), whatever runtime directory its daemon uses. */
export const SANDBOX_MARK = 'CCRED_TEST_SANDBOX'
/** Passed through so a mutation-testing run's active mutant reaches the CLI and the daemon too. */
const PASSED_TEST_VARIABLES = [TEST_RUN_MARK, '__STRYKER_ACTIVE_MUTANT__']

/** `ccred daemon run` processes (Linux /proc) whose environment holds `NAME=value`. */
export function daemonProcessesMarked(name: string, value: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (!cmdline.includes('daemon\0run')) continue
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`${name}=${value}`)) pids.push(Number(entry))
    } catch { /* exited meanwhile, or not ours to read */ }
  }
  return pids
}

/** SIGTERM, a grace period for a clean shutdown, then SIGKILL. */
async function stopProcess(pid: number): Promise<void> {
  try { process.kill(pid, 'SIGTERM') } catch { return }
  const deadline = Date.now() + 3_000
  while (Date.now() < deadline && isProcessAlive(pid)) await new Promise((r) => setTimeout(r, 20))
  if (isProcessAlive(pid)) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
}

export class Sandbox {
  readonly root: string
  readonly home: string
  readonly runtimeDir: string
  readonly configPath: string
  readonly stateDir: string
  readonly dataDir: string
  readonly env: Record<string, string>

  constructor(extraEnv: Record<string, string> = {}) {
    // Short path: a Unix socket path must stay under ~100 bytes.
    this.root = mkdtempSync(join(tmpdir(), 'ccr-'))
    this.home = join(this.root, 'home')
    this.runtimeDir = join(this.root, 'run')
    this.configPath = join(this.home, '.config', 'ccred', 'config.toml')
    this.stateDir = join(this.home, '.local', 'state', 'ccred')
    this.dataDir = join(this.home, '.local', 'share', 'ccred')
    mkdirSync(this.home, { recursive: true })
    const base: Record<string, string> = {}
    for (const name of ['PATH', 'LANG', 'TMPDIR', 'USER', 'LOGNAME', 'DBUS_SESSION_BUS_ADDRESS', ...PASSED_TEST_VARIABLES]) {
      const value = process.env[name]
      if (value !== undefined) base[name] = value
    }
    this.env = {
      ...base,
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      XDG_STATE_HOME: join(this.home, '.local', 'state'),
      XDG_DATA_HOME: join(this.home, '.local', 'share'),
      CCRED_RUNTIME_DIR: this.runtimeDir,
      [SANDBOX_MARK]: this.root,
      ...extraEnv,
    }
  }

  get cliPath(): string {
    return join(repoRoot(), 'dist', 'cmd', 'ccred.cjs')
  }

  writeConfig(toml: string): void {
    mkdirSync(join(this.home, '.config', 'ccred'), { recursive: true })
    writeFileSync(this.configPath, toml)
  }

  /** Writes an executable script into the sandbox and returns its path. */
  writeScript(name: string, body: string): string {
    const path = join(this.root, name)
    writeFileSync(path, body)
    chmodSync(path, 0o755)
    return path
  }

  file(name: string): string {
    return join(this.root, name)
  }

  /** The sandbox's environment with `extra` applied (an undefined value removes the variable). */
  #envWith(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string> = { ...this.env }
    for (const [key, value] of Object.entries(extra)) {
      if (value === undefined) delete env[key]
      else env[key] = value
    }
    return env
  }

  /**
   * Runs the real CLI as a child process. stdin is /dev/null unless `input` is given.
   * The daemon treats Claude Code (CLAUDE_CODE_HELPER_ENV) asking again within its TTL
   * as a 401 re-run; `distinctCaller` runs the CLI under a process of its own, as a
   * separate Claude Code session would.
   */
  run(args: string[], options: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; distinctCaller?: boolean; cwd?: string } = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const env = this.#envWith(options.env)
      const argv = options.distinctCaller
        ? ['-e', DISTINCT_CALLER, this.cliPath, ...args]
        : [this.cliPath, ...args]
      const child = spawn(process.execPath, argv, { env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) })
      let stdout = ''
      let stderr = ''
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`ccred ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms; stderr: ${stderr}`))
      }, options.timeoutMs ?? 30_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
      if (options.input !== undefined) child.stdin!.end(options.input)
    })
  }

  /**
   * Starts the real CLI and returns at once, for commands a test interacts with
   * while they run (`ccred login` prints a URL, then waits for the browser).
   */
  start(args: string[], options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): RunningCli {
    const env = this.#envWith(options.env)
    const child = spawn(process.execPath, [this.cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const listeners = new Set<() => void>()
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      for (const listener of listeners) listener()
    })
    const done = new Promise<CliResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`ccred ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms; stderr: ${stderr}`))
      }, options.timeoutMs ?? 60_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        for (const listener of listeners) listener()
        resolve({ code, stdout, stderr })
      })
    })
    return {
      done,
      stderr: () => stderr,
      waitForStderr: (pattern, timeoutMs = 15_000) => new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const match = stderr.match(pattern)
          if (match !== null) finish(() => resolve(match))
          else if (child.exitCode !== null) finish(() => reject(new Error(`ccred exited (${child.exitCode}) before printing ${pattern}; stderr: ${stderr}`)))
        }
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms; stderr: ${stderr}`))), timeoutMs)
        const finish = (settle: () => void) => {
          clearTimeout(timer)
          listeners.delete(check)
          settle()
        }
        listeners.add(check)
        check()
      }),
    }
  }

  daemonPid(): number | undefined {
    const path = join(this.runtimeDir, 'daemon.pid')
    if (!existsSync(path)) return undefined
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10)
    return Number.isInteger(pid) ? pid : undefined
  }

  /** Daemon processes this sandbox started (by its mark in their environment, Linux /proc), whatever their runtime directory. */
  daemonProcesses(): number[] {
    return daemonProcessesMarked(SANDBOX_MARK, this.root)
  }

  /** The variables that mark a process as this sandbox's (for an environment built from scratch, such as Claude Code's). */
  get markEnv(): Record<string, string> {
    const marks: Record<string, string> = { [SANDBOX_MARK]: this.root }
    for (const name of PASSED_TEST_VARIABLES) if (this.env[name] !== undefined) marks[name] = this.env[name]
    return marks
  }

  auditLog(): string {
    const path = join(this.stateDir, 'audit.log')
    return existsSync(path) ? readFileSync(path, 'utf8') : ''
  }

  /** The audit log, one parsed JSON object per line. */
  auditLines(): AuditLine[] {
    return this.auditLog().split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as AuditLine)
  }

  daemonLog(): string {
    const path = join(this.stateDir, 'daemon.log')
    return existsSync(path) ? readFileSync(path, 'utf8') : ''
  }

  /**
   * Stops the sandbox's daemons, then removes every file: first the one in the pid file, then
   * any other it started (found by its mark, e.g. one whose runtime directory came from
   * XDG_RUNTIME_DIR), so none is left running once its directories are gone.
   */
  async cleanup(): Promise<void> {
    const pid = this.daemonPid()
    if (pid !== undefined) await stopProcess(pid)
    await Promise.all(this.daemonProcesses().map(stopProcess))
    rmSync(this.root, { recursive: true, force: true })
  }
}

export { isProcessAlive as isAlive }

/**
 * The sandboxes of one test file: push each one made, and after the file's tests every one is
 * cleaned up (its daemons stopped, then its directories removed), whichever test failed.
 */
export function sandboxesCleanedUpAfterAll(): Sandbox[] {
  const boxes: Sandbox[] = []
  after(async () => { await Promise.all(boxes.map((box) => box.cleanup())) })
  return boxes
}

/** A CLI run in one line, for assertion messages: exit code, stdout and stderr. */
export function describeResult(result: CliResult): string {
  return `exit ${String(result.code)}; stdout ${JSON.stringify(result.stdout)}; stderr ${JSON.stringify(result.stderr)}`
}

/**
 * What `get` prints for a plain credential: the value and one newline, nothing else.
 * Returns the value.
 */
export function oneLineStdout(stdout: string): string {
  assert.match(stdout, /^[^\n]+\n$/, `stdout is the value and one newline: ${JSON.stringify(stdout.slice(0, 200))}`)
  return stdout.slice(0, -1)
}

/**
 * Polls until `check` is true; for things that happen in another process. Bounded only to turn a
 * hang into a failure: generous, because a busy machine (both cores saturated) stretches every step.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}
