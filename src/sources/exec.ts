import { spawn } from 'node:child_process'
import { CcredError } from '../errors.js'
import { formatDurationMs } from '../config/duration.js'
import { parseReference, type Reference } from '../config/references.js'
import { boolean, durationMs, INVALID, parseWith, raw, table, type Field, type Infer, type Invalid } from '../config/schema.js'
import type { TokenCredential } from '../credential.js'
import type { SourceDefinition } from './source.js'
import { sanitizeLine } from '../text/sanitize.js'
import { redactSecrets } from '../text/redact.js'
import { HOST_OS, hostPlatform, type Platform } from '../platform.js'
import { execInvocation, execName, treeKillInvocation } from './exec-invocation.js'
import { untrustedProgram, type TrustedFileKind } from '../config/file-trust.js'

const DEFAULT_TIMEOUT_MS = 30_000

/** `command`: an argv array, or with shell = true the shell command line (kept as a one-element argv). */
const commandArgv: Field<string[]> = (reader) => {
  const command = reader.raw('command')
  const problem = (message: string): Invalid => {
    reader.problem('command', message)
    return INVALID
  }
  if (command === undefined) return problem('is required (an argv array such as ["/usr/local/bin/get-key", "--json"])')
  // `shell` is read and checked as its own field; anything but true means an argv.
  if (reader.raw('shell') === true) {
    return typeof command === 'string' && command.trim() !== '' ? [command] : problem('with shell = true, expected the shell command line as one non-empty string')
  }
  if (Array.isArray(command) && command.length > 0 && command.every((part) => typeof part === 'string') && command[0] !== '') return command as string[]
  if (typeof command === 'string') return problem('expected an argv array such as ["get-key", "--json"]; to run a shell command line, also set shell = true')
  return problem('expected a non-empty argv array of strings')
}

/** `env`: the helper's own variables, NAME = "value" or a reference ("env:NAME", "keychain:NAME"); resolved at each run. */
const helperEnv = raw('env', (value, problem): Record<string, string | Reference> | Invalid => {
  const env: Record<string, string | Reference> = {}
  if (value === undefined) return env
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return problem('expected a table of NAME = "value" (a value may be a reference such as "env:NAME")')
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return problem(`"${name.slice(0, 40)}" is not a variable name (letters, digits, _)`)
    if (typeof entry !== 'string') return problem(`${name}: expected a string (a value or a reference such as "env:NAME")`)
    env[name] = parseReference(entry) ?? entry
  }
  return env
})

const execOptions = table({
  shell: boolean('shell', false),
  argv: commandArgv,
  /** The helper's own variables; nothing else of the daemon's environment but a minimal base. */
  env: helperEnv,
  lifetimeMs: durationMs('lifetime', { minMs: 1000 }),
  timeoutMs: durationMs('timeout', { fallbackMs: DEFAULT_TIMEOUT_MS, minMs: 100, maxMs: 10 * 60_000 }),
})
type ExecOptions = Infer<typeof execOptions>
const MAX_STDOUT_BYTES = 64 * 1024
const MAX_STDERR_BYTES = 16 * 1024

/**
 * Adapter for an existing helper script: runs a command (an argv array, no shell
 * unless `shell = true`) and reads the credential from its stdout, either a bare
 * line or JSON `{"token": "...", "expires_at": "RFC3339"}` / `"expires_in": seconds`.
 */
export const execSource: SourceDefinition<ExecOptions> = {
  kind: 'exec',
  summary: 'runs a command (argv, no shell) and reads the credential from its stdout',
  parse(reader) {
    return parseWith(execOptions, reader)
  },
  references(options) {
    // A `vault:` one here makes [vault] part of the cache key, as for every other source.
    return Object.values(options.env).filter((value): value is Reference => typeof value !== 'string')
  },
  create(options) {
    return {
      async fetch(ctx) {
        const own: Record<string, string> = {}
        // What a reference resolved to is a secret the helper may echo on stderr: redacted like its output,
        // with the profile's current and previous values (ctx.secrets).
        const passedSecrets: string[] = []
        for (const [name, value] of Object.entries(options.env)) {
          if (typeof value === 'string') own[name] = value
          else passedSecrets.push(own[name] = await ctx.resolve(value, `env.${name}`))
        }
        const platform = hostPlatform()
        // A program another user can change would run their code as you: refused like an untrusted config.
        const program = options.shell ? undefined : options.argv[0]!
        const problem = program !== undefined && program.includes('/') ? untrustedProgram(program, EXEC_PROGRAM) : undefined
        if (problem !== undefined) throw problem
        const { stdout } = await runCommand(options, helperEnvironment(process.env, own, platform.os), platform, () => [...passedSecrets, ...(ctx.secrets?.() ?? [])])
        return parseOutput(stdout, options, ctx.clock.now())
      },
    }
  },
}

/** An exec source's program, checked like the config before it is run. */
const EXEC_PROGRAM: TrustedFileKind = {
  label: 'exec command',
  code: 'ERR_CONFIG',
  maxBytes: 0,
  fixPath: 'point command at a program',
  fixSize: '',
  stickyParentIsFine: true,
  groupWritableIsFine: true,
}

function commandName(options: Pick<ExecOptions, 'argv' | 'shell'>, os: NodeJS.Platform = HOST_OS): string {
  return execName(os, options.argv, options.shell)
}

/** Variables a helper gets from the daemon's environment; everything else only if the profile names it in `env`. */
const PASSED_VARIABLES = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'TMPDIR', 'SHELL', 'TZ'])
const PASSED_PREFIXES = ['LC_', 'XDG_']
/** After SIGTERM to the helper's process group, this long before SIGKILL. */
const KILL_GRACE_MS = 500
/**
 * After the helper exits, how long its pipes may still deliver what it wrote. A
 * grandchild that kept them open (`setsid sleep 1000 &`) would otherwise hold the
 * fetch until it exits: end-of-file is not waited for beyond this.
 */
const PIPE_DRAIN_MS = 300
/** The longest helper stderr excerpt shown in errors, status and doctor. */
const STDERR_EXCERPT_CHARS = 200

/**
 * Windows also needs these (names compared without case, as Windows does): without
 * SystemRoot many programs fail to start, cmd needs ComSpec and PATHEXT to find
 * `.cmd` shims, and the profile folders are where tools keep their own config.
 */
const PASSED_ON_WINDOWS = new Set(['PATH', 'PATHEXT', 'SYSTEMROOT', 'WINDIR', 'COMSPEC', 'SYSTEMDRIVE', 'USERPROFILE', 'USERNAME', 'USERDOMAIN', 'HOMEDRIVE', 'HOMEPATH', 'APPDATA', 'LOCALAPPDATA', 'PROGRAMDATA', 'PROGRAMFILES', 'PROGRAMFILES(X86)', 'COMMONPROGRAMFILES', 'TEMP', 'TMP', 'NUMBER_OF_PROCESSORS', 'PROCESSOR_ARCHITECTURE'])

/** The helper's environment: a minimal base from `inherited`, then the profile's own `env` table. */
export function helperEnvironment(inherited: Record<string, string | undefined>, own: Record<string, string>, os: NodeJS.Platform = HOST_OS): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(inherited)) {
    if (value === undefined) continue
    if (PASSED_VARIABLES.has(name) || PASSED_PREFIXES.some((prefix) => name.startsWith(prefix))) env[name] = value
    else if (os === 'win32' && PASSED_ON_WINDOWS.has(name.toUpperCase())) env[name] = value
  }
  return Object.assign(env, own)
}

function runCommand(options: ExecOptions, env: Record<string, string>, platform: Platform, knownSecrets: () => string[]): Promise<{ stdout: string }> {
  const name = commandName(options, platform.os)
  return new Promise((resolve, reject) => {
    // Per platform: sh or %ComSpec%, PATHEXT lookup and .cmd shims on Windows (exec-invocation.ts).
    const { file, args, detached, windowsVerbatimArguments } = execInvocation(platform, options.argv, options.shell)
    // detached: its own process group, so a timeout kills the whole tree (a shell's children too).
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached, windowsHide: true, windowsVerbatimArguments, env })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let stdoutBytes = 0
    let stderrBytes = 0
    let failure: CcredError | undefined
    let settled = false
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
    const timers: NodeJS.Timeout[] = []
    const signalTree = (signal: NodeJS.Signals) => {
      const treeKill = child.pid === undefined ? undefined : treeKillInvocation(platform, child.pid)
      if (treeKill !== undefined) {
        // Windows: the whole tree at once, forcibly (there is no SIGTERM to give it first).
        if (signal === 'SIGKILL') return
        const killer = spawn(treeKill.file, treeKill.args, { stdio: 'ignore', windowsHide: true })
        killer.on('error', () => child.kill(signal))
        killer.on('exit', (code) => { if (code !== 0) child.kill(signal) })
        return
      }
      try {
        if (child.pid !== undefined && detached) process.kill(-child.pid, signal)
        else child.kill(signal)
      } catch { /* already gone */ }
    }
    const killTree = () => {
      signalTree('SIGTERM')
      const kill = setTimeout(() => signalTree('SIGKILL'), KILL_GRACE_MS)
      kill.unref()
    }
    /** Settles once: stops the timers and lets go of the pipes, whoever still holds their other end. */
    const finish = () => {
      if (settled) return
      settled = true
      for (const timer of timers) clearTimeout(timer)
      child.stdout.destroy()
      child.stderr.destroy()
      const out = Buffer.concat(stdout).toString('utf8')
      if (failure !== undefined) return reject(failure)
      if (exit === undefined) return reject(new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} ended without an exit status`, { hint: 'run the command by hand to see why it fails' }))
      if (exit.code !== 0) {
        const status = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`
        const detail = stderrExcerpt(Buffer.concat(stderr).toString('utf8'), [...secretsIn(out), ...knownSecrets()])
        return reject(new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} ${status}${detail === '' ? '' : `: ${detail}`}`, {
          hint: 'run the command by hand to see why it fails',
        }))
      }
      resolve({ stdout: out })
    }
    timers.push(setTimeout(() => {
      failure ??= new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} timed out after ${formatDurationMs(options.timeoutMs)}`, {
        hint: 'check that the command works when run by hand, or raise `timeout` in the profile',
      })
      killTree()
      finish()
    }, options.timeoutMs))
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        failure ??= new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed more than 64 KiB; a credential is one short line`, {
          hint: 'make the command print only the credential (or JSON {"token": ..., "expires_at": ...})',
        })
        killTree()
        finish()
        return
      }
      stdout.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrBytes < MAX_STDERR_BYTES) stderr.push(chunk)
      stderrBytes += chunk.length
    })
    child.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' ? 'was not found' : error.code === 'EACCES' ? 'is not executable' : `could not start (${error.code ?? error.message})`
      failure ??= new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} ${why}`, { cause: error, hint: 'use an absolute path in `command`, and check it runs by hand' })
      finish()
    })
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      // What it wrote is in the pipes; their end-of-file may never come if a grandchild holds them.
      const drain = setTimeout(finish, PIPE_DRAIN_MS)
      drain.unref()
      timers.push(drain)
    })
    child.on('close', (code, signal) => {
      exit ??= { code, signal }
      finish()
    })
  })
}

/** Every string the helper printed on stdout that may be secret: the whole output, each line, each JSON string value. */
export function secretsIn(stdout: string): string[] {
  const found = new Set<string>()
  const text = stdout.trim()
  if (text !== '') found.add(text)
  for (const line of text.split(/\r?\n/)) if (line.trim() !== '') found.add(line.trim())
  const collect = (value: unknown): void => {
    if (typeof value === 'string') {
      if (value.trim() !== '') found.add(value)
    } else if (Array.isArray(value)) value.forEach(collect)
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect)
  }
  try {
    collect(JSON.parse(text))
  } catch { /* not JSON: the lines are all there is */ }
  return [...found]
}

/** The last non-empty line of stderr: redacted first, then made printable, then cut short. */
function stderrExcerpt(stderr: string, secrets: string[]): string {
  const redacted = redactSecrets(stderr, secrets)
  const line = redacted.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').pop() ?? ''
  // The one sanitizer for terminal output (C0/C1 controls, bidi), then cut short.
  return sanitizeLine(line, STDERR_EXCERPT_CHARS)
}

export function parseOutput(stdout: string, options: Pick<ExecOptions, 'lifetimeMs' | 'argv' | 'shell'>, nowMs: number): TokenCredential {
  const name = commandName(options as ExecOptions)
  const text = stdout.trim()
  if (text === '') {
    throw new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed nothing`, { hint: 'the command must print the credential on stdout' })
  }
  let value: string
  let expiresAtMs: number | undefined
  if (text.startsWith('{')) {
    let json: Record<string, unknown>
    try {
      json = JSON.parse(text) as Record<string, unknown>
    } catch {
      throw new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed output that starts with "{" but is not valid JSON`, {
        hint: 'print either the bare credential or JSON {"token": "...", "expires_at": "RFC3339"}',
      })
    }
    const token = json.token ?? json.access_token
    if (typeof token !== 'string' || token === '') {
      throw new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed JSON without a string "token" field`, {
        hint: 'print JSON {"token": "...", "expires_at": "RFC3339"} or {"token": "...", "expires_in": seconds}',
      })
    }
    value = token
    if (json.expires_at !== undefined) {
      const parsed = typeof json.expires_at === 'string' ? Date.parse(json.expires_at) : Number.NaN
      if (Number.isNaN(parsed)) {
        throw new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed an "expires_at" that is not an RFC 3339 time`, { hint: 'use a time like "2026-01-01T12:00:00Z"' })
      }
      expiresAtMs = parsed
    } else if (json.expires_in !== undefined) {
      if (typeof json.expires_in !== 'number' || !(json.expires_in > 0)) {
        throw new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed an "expires_in" that is not a positive number of seconds`, { hint: 'use e.g. "expires_in": 3600' })
      }
      expiresAtMs = nowMs + json.expires_in * 1000
    }
  } else {
    const lines = text.split(/\r?\n/)
    if (lines.length > 1) {
      throw new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed ${lines.length} lines; a credential must be a single line`, {
        hint: 'make the command print only the credential (messages belong on stderr)',
      })
    }
    value = text
  }
  if (expiresAtMs === undefined && options.lifetimeMs !== undefined) expiresAtMs = nowMs + options.lifetimeMs
  const credential: TokenCredential = { kind: 'token', value, meta: { command: name } }
  if (expiresAtMs !== undefined) credential.expiresAt = new Date(expiresAtMs)
  return credential
}
