import { spawn } from 'node:child_process'
import { CcredError } from '../errors.js'
import { formatDurationMs } from '../config/duration.js'
import { boolean, durationMs, INVALID, parseWith, table, type Field, type Infer, type Invalid } from '../config/schema.js'
import type { TokenCredential } from '../credential.js'
import type { SourceDefinition } from './source.js'
import { sanitizeLine } from '../text/sanitize.js'
import { hostPlatform, type Platform } from '../platform.js'
import { execInvocation } from './exec-invocation.js'

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

const execOptions = table({
  shell: boolean('shell', false),
  argv: commandArgv,
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
  create(options) {
    return {
      kind: 'exec',
      async fetch(ctx) {
        const { stdout } = await runCommand(options, hostPlatform())
        return parseOutput(stdout, options, ctx.clock.now())
      },
    }
  },
}

function commandName(options: ExecOptions): string {
  return options.shell ? 'sh -c' : options.argv[0]!
}

function runCommand(options: ExecOptions, platform: Platform): Promise<{ stdout: string }> {
  const name = commandName(options)
  return new Promise((resolve, reject) => {
    // Per platform: sh or %ComSpec%, PATHEXT lookup and .cmd shims on Windows (exec-invocation.ts).
    const { file, args, detached, windowsVerbatimArguments } = execInvocation(platform, options.argv, options.shell)
    // detached: its own process group, so a timeout kills the whole tree (a shell's children too).
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached, windowsHide: true, windowsVerbatimArguments })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let stdoutBytes = 0
    let stderrBytes = 0
    let failure: CcredError | undefined
    const killTree = () => {
      try {
        if (child.pid !== undefined && detached) process.kill(-child.pid, 'SIGKILL')
        else child.kill('SIGKILL')
      } catch { /* already gone */ }
    }
    const timer = setTimeout(() => {
      failure = new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} timed out after ${formatDurationMs(options.timeoutMs)}`, {
        hint: 'check that the command works when run by hand, or raise `timeout` in the profile',
      })
      killTree()
    }, options.timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        failure ??= new CcredError('ERR_SOURCE_OUTPUT', `exec: ${name} printed more than 64 KiB; a credential is one short line`, {
          hint: 'make the command print only the credential (or JSON {"token": ..., "expires_at": ...})',
        })
        killTree()
        return
      }
      stdout.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrBytes < MAX_STDERR_BYTES) stderr.push(chunk)
      stderrBytes += chunk.length
    })
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = error.code === 'ENOENT' ? 'was not found' : error.code === 'EACCES' ? 'is not executable' : `could not start (${error.code ?? error.message})`
      reject(new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} ${why}`, { cause: error, hint: 'use an absolute path in `command`, and check it runs by hand' }))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const out = Buffer.concat(stdout).toString('utf8')
      if (failure !== undefined) return reject(failure)
      if (code !== 0) {
        const status = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`
        const detail = lastLine(Buffer.concat(stderr).toString('utf8'), out)
        return reject(new CcredError('ERR_SOURCE_UNAVAILABLE', `exec: ${name} ${status}${detail === '' ? '' : `: ${detail}`}`, {
          hint: 'run the command by hand to see why it fails',
        }))
      }
      resolve({ stdout: out })
    })
  })
}

/** The last line of stderr, short and printable, and never containing what stdout printed. */
function lastLine(stderr: string, stdout: string): string {
  const line = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').pop() ?? ''
  const secret = stdout.trim()
  const cleaned = sanitizeLine(line, 300)
  return secret.length >= 4 && cleaned.includes(secret) ? '(stderr withheld: it contains the command output)' : cleaned
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
