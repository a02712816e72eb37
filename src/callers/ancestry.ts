import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { isPassThrough, type CallerProcess } from './caller.js'

/** One process as a reader sees it: pid, parent pid and program name (never its arguments, which may hold secrets). */
export interface ProcessInfo extends CallerProcess {
  ppid: number
}

/** Who ran the client: its direct parent, and the nearest ancestor that is not a shell or wrapper. */
export interface Ancestry {
  parent?: ProcessInfo
  caller?: ProcessInfo
}

/**
 * Process ancestry on one platform, behind one interface. `problem` says why the
 * reader could not answer lately (a `ps` that timed out): the service shows it in
 * `status`, because without ancestry a 401 re-run is not recognised by process name.
 */
export interface AncestryReader {
  /** How this platform is read: /proc, one `ps` per lookup, or not at all (Windows). */
  readonly method: 'proc' | 'ps' | 'none'
  lookup(clientPid: number, clientParentPid?: number): Promise<Ancestry>
  readonly problem: string | undefined
}

export interface AncestryOptions {
  /** Epoch ms; the caches' clock. */
  nowMs?: () => number
  /** Runs `ps -A -o pid=,ppid=,comm=` (tests pass a recorded output or a slow one). */
  runPs?: () => Promise<string>
  /** Told once when the reader first fails (the daemon log). */
  onProblem?: (problem: string) => void
}

/**
 * The reader for an OS. Linux (and any Unix with /proc): /proc, per process, cached.
 * macOS and the BSDs: one `ps -A` per lookup at most, the whole table at once
 * (walking up with one `ps -p` per ancestor spawned two or three per `get`), cached
 * for a moment so a burst of helper runs shares it. Windows: none. Node knows only
 * the parent pid there, `wmic` is gone from new releases and PowerShell's
 * Get-CimInstance takes about a second to start; the caller kinds identify a session
 * from the environment instead (claude-code.ts: a digest of Claude Code's messaging
 * socket path; codex.ts: the parent pid, which is Codex itself for its exec'd hooks).
 * bench/caller-lookup.ts measures each reader.
 */
export function ancestryReaderFor(os: NodeJS.Platform, options: AncestryOptions = {}): AncestryReader {
  if (os === 'win32') return NO_ANCESTRY
  if (os === 'darwin' || os === 'freebsd' || os === 'openbsd' || os === 'netbsd' || os === 'aix' || os === 'sunos') return new PsTableReader(options)
  return new ProcReader(options)
}

const NO_ANCESTRY: AncestryReader = { method: 'none', problem: undefined, lookup: () => Promise.resolve({}) }

/**
 * Ancestors are read once per few seconds, not on every request: under load the
 * same agent process asks many times. A pid reused within the window is the only
 * risk, and it only affects which caller a value is attributed to.
 */
const CACHE_MS = 2_000
const CACHE_MAX_ENTRIES = 1024
/** Shells and wrappers are never deeper than this between an agent and its helper. */
const MAX_DEPTH = 16

/**
 * The walk shared by every reader: from the client's parent up past shells and
 * wrappers to the program that ran the hook (Claude Code runs helpers as
 * `sh -c "…"`, Codex its MCP helper too).
 */
async function walk(clientPid: number, clientParentPid: number | undefined, read: (pid: number) => Promise<ProcessInfo | undefined> | ProcessInfo | undefined): Promise<Ancestry> {
  // The client's own entry is new on every run, so it is read only when the client did not say.
  const parentPid = clientParentPid ?? (await read(clientPid))?.ppid
  if (parentPid === undefined) return {}
  const parent = await read(parentPid)
  if (parent === undefined) return {}
  let current: ProcessInfo | undefined = parent
  for (let depth = 0; current !== undefined && depth < MAX_DEPTH; depth++) {
    if (!isPassThrough(current.command) || current.ppid <= 1) break
    current = await read(current.ppid)
  }
  return current === undefined ? { parent } : { parent, caller: current }
}

/**
 * /proc is read synchronously on purpose: it is memory, not disk, and answers in
 * microseconds, which an fs thread-pool round trip per file would only slow down
 * (it is the daemon's largest per-request cost under load).
 */
class ProcReader implements AncestryReader {
  readonly method = 'proc'
  readonly problem = undefined
  readonly #cache = new Map<number, { info: ProcessInfo | undefined; readAtMs: number }>()
  readonly #nowMs: () => number

  constructor(options: AncestryOptions) {
    this.#nowMs = options.nowMs ?? Date.now
  }

  lookup(clientPid: number, clientParentPid?: number): Promise<Ancestry> {
    return walk(clientPid, clientParentPid, (pid) => (pid === clientPid ? readProcStat(pid) : this.#cached(pid)))
  }

  #cached(pid: number): ProcessInfo | undefined {
    const nowMs = this.#nowMs()
    const hit = this.#cache.get(pid)
    if (hit !== undefined && nowMs - hit.readAtMs < CACHE_MS) return hit.info
    const info = readProcStat(pid)
    if (this.#cache.size >= CACHE_MAX_ENTRIES) this.#cache.clear()
    this.#cache.set(pid, { info, readAtMs: nowMs })
    return info
  }
}

export function readProcStat(pid: number): ProcessInfo | undefined {
  try {
    return parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}

/** `/proc/<pid>/stat`: "pid (comm) state ppid …"; comm may itself hold spaces and parentheses. */
export function parseProcStat(pid: number, stat: string): ProcessInfo | undefined {
  const close = stat.lastIndexOf(')')
  const open = stat.indexOf('(')
  if (open < 0 || close < open) return undefined
  const ppid = Number(stat.slice(close + 2).split(' ')[1])
  return Number.isInteger(ppid) ? { pid, ppid, command: stat.slice(open + 1, close) } : undefined
}

/** `ps` must not hold up a request: a slow or stuck one counts as "unknown" (and says so in status). */
export const PS_TIMEOUT_MS = 1_000

function runPsTable(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ps', ['-A', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8', timeout: PS_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024, windowsHide: true }, (error, stdout) => {
      if (error === null) resolve(stdout)
      else reject(error)
    })
  })
}

/**
 * One `ps -A` gives every process's parent and name, so the walk costs one spawn
 * (about what a single `ps -p` costs) instead of one per ancestor. The table is kept
 * for CACHE_MS and read again only when the client's parent is not in it (a new shell).
 */
class PsTableReader implements AncestryReader {
  readonly method = 'ps'
  problem: string | undefined
  #table: { rows: Map<number, ProcessInfo>; readAtMs: number } | undefined
  #reading: Promise<Map<number, ProcessInfo> | undefined> | undefined
  readonly #nowMs: () => number
  readonly #runPs: () => Promise<string>
  readonly #onProblem: (problem: string) => void
  #told = false

  constructor(options: AncestryOptions) {
    this.#nowMs = options.nowMs ?? Date.now
    this.#runPs = options.runPs ?? runPsTable
    this.#onProblem = options.onProblem ?? (() => undefined)
  }

  async lookup(clientPid: number, clientParentPid?: number): Promise<Ancestry> {
    const cached = this.#table
    const fresh = cached !== undefined && this.#nowMs() - cached.readAtMs < CACHE_MS
    const rows = fresh && clientParentPid !== undefined && cached.rows.has(clientParentPid) ? cached.rows : await this.#read()
    if (rows === undefined) return {}
    return walk(clientPid, clientParentPid, (pid) => rows.get(pid))
  }

  /** One `ps` at a time: concurrent lookups share it. */
  #read(): Promise<Map<number, ProcessInfo> | undefined> {
    this.#reading ??= this.#runPs().then(
      (out) => {
        const rows = parsePsTable(out)
        this.#table = { rows, readAtMs: this.#nowMs() }
        this.problem = undefined
        return rows
      },
      (error: NodeJS.ErrnoException & { killed?: boolean }) => {
        this.problem = error.killed === true
          ? `ps did not answer within ${PS_TIMEOUT_MS} ms: a helper re-run after a 401 is not recognised by process name meanwhile`
          : `ps failed (${error.code ?? 'error'}): a helper re-run after a 401 is not recognised by process name`
        if (!this.#told) {
          this.#told = true
          this.#onProblem(this.problem)
        }
        return undefined
      },
    ).finally(() => {
      this.#reading = undefined
    })
    return this.#reading
  }
}

/** `ps -A -o pid=,ppid=,comm=`: one process a line; only the program's file name is kept (macOS prints its path). */
export function parsePsTable(out: string): Map<number, ProcessInfo> {
  const rows = new Map<number, ProcessInfo>()
  for (const line of out.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*?)\s*$/.exec(line)
    if (match === null) continue
    const pid = Number(match[1])
    rows.set(pid, { pid, ppid: Number(match[2]), command: basename(match[3]!) })
  }
  return rows
}
