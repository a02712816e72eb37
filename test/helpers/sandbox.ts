import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { isProcessAlive } from '../../src/daemon/process-alive.js'
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
const DISTINCT_CALLER = `const [file, ...args] = process.argv.slice(1); const r = require('node:child_process').spawnSync(file, args, { stdio: 'inherit' }); process.exit(r.status ?? 1)`

/**
 * CCRED_TEST_CLI=dist/exe/ccred-linux-x64 runs every Sandbox's CLI as that standalone
 * executable instead of node on the npm bin, so any suite file can be pointed at it.
 */
export const TEST_EXECUTABLE = process.env.CCRED_TEST_CLI ? resolve(repoRoot(), process.env.CCRED_TEST_CLI) : undefined

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

export class Sandbox {
  readonly root: string
  readonly home: string
  readonly runtimeDir: string
  readonly configPath: string
  readonly stateDir: string
  readonly dataDir: string
  readonly env: Record<string, string>

  /** The standalone executable this sandbox runs instead of node and the npm bin (TEST_EXECUTABLE by default). */
  readonly executable: string | undefined

  constructor(extraEnv: Record<string, string> = {}, options: { executable?: string } = {}) {
    this.executable = options.executable ?? TEST_EXECUTABLE
    // Short path: a Unix socket path must stay under ~100 bytes.
    this.root = mkdtempSync(join(tmpdir(), 'ccr-'))
    this.home = join(this.root, 'home')
    this.runtimeDir = join(this.root, 'run')
    this.configPath = join(this.home, '.config', 'ccred', 'config.toml')
    this.stateDir = join(this.home, '.local', 'state', 'ccred')
    this.dataDir = join(this.home, '.local', 'share', 'ccred')
    mkdirSync(this.home, { recursive: true })
    const base: Record<string, string> = {}
    for (const name of ['PATH', 'LANG', 'TMPDIR', 'USER', 'LOGNAME', 'DBUS_SESSION_BUS_ADDRESS']) {
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
      ...extraEnv,
    }
  }

  get cliPath(): string {
    return this.executable ?? join(repoRoot(), 'dist', 'cmd', 'ccred.cjs')
  }

  /** The program and leading arguments that run the CLI: the executable alone, or node and the bin. */
  cliCommand(args: string[]): [string, string[]] {
    return this.executable !== undefined ? [this.executable, args] : [process.execPath, [this.cliPath, ...args]]
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
      const [cli, cliArgs] = this.cliCommand(args)
      const [file, argv] = options.distinctCaller ? [process.execPath, ['-e', DISTINCT_CALLER, cli, ...cliArgs]] : [cli, cliArgs]
      const child = spawn(file, argv, { env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) })
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
    const [file, argv] = this.cliCommand(args)
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] })
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

  /** Daemon processes serving this sandbox, found by their command line and environment (Linux /proc). */
  daemonProcesses(): number[] {
    const pids: number[] = []
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      try {
        const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8')
        if (!cmdline.includes('daemon\0run')) continue
        if (readFileSync(`/proc/${name}/environ`, 'utf8').includes(`CCRED_RUNTIME_DIR=${this.runtimeDir}\0`)) pids.push(Number(name))
      } catch { /* exited meanwhile */ }
    }
    return pids
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

  /** Stops the sandbox's daemon (if any) and removes every file. */
  async cleanup(): Promise<void> {
    const pid = this.daemonPid()
    if (pid !== undefined) {
      try { process.kill(pid, 'SIGTERM') } catch { /* gone */ }
      const deadline = Date.now() + 3_000
      while (Date.now() < deadline && isProcessAlive(pid)) await new Promise((r) => setTimeout(r, 20))
      if (isProcessAlive(pid)) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
    rmSync(this.root, { recursive: true, force: true })
  }
}

export { isProcessAlive as isAlive }

/** A CLI run in one line, for assertion messages: exit code, stdout and stderr. */
export function describeResult(result: CliResult): string {
  return `exit ${String(result.code)}; stdout ${JSON.stringify(result.stdout)}; stderr ${JSON.stringify(result.stderr)}`
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
