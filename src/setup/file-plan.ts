import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { CcredError } from '../errors.js'
import { strippedForProjectMcp } from './claude-hooks.js'
import { jsonFormat, keyName, wholeTextFormat, type DocumentFormat, type SettingKey } from './document-format.js'
import { tomlFormat } from './toml-format.js'
import { ensurePrivateDir, readForEdit, writeAtomic, type FileSnapshot } from './settings-file.js'

/**
 * One plan, apply and undo for every settings file setup writes, whatever its format
 * (document-format.ts). A plan is the file as read, the key changes, and exactly the
 * text that will be written; the diff shown is computed from that text. Apply keeps a
 * backup of the file as it was in ccred's private state directory (0700, files 0600,
 * never beside the file: a project's file would carry it into a commit) and records
 * what it wrote; undo puts back ccred's own changes and nothing else.
 */

export interface KeyChange {
  key: SettingKey
  before: unknown
  after: unknown
}

export interface FilePlan<Doc = unknown> {
  /** The file as read for editing (settings-file.ts readForEdit). */
  file: FileSnapshot
  /** Which layer, for messages and the record: "user", "project", … */
  scope: string
  /** Set for a file inside the project (.mcp.json, .claude/settings*.json): no linked directory may lead out of it. */
  projectDir?: string
  /**
   * A file the project shares (.mcp.json, .claude/settings.json): it goes into commits,
   * so undo leaves it alone once it changed or was committed.
   */
  shared?: boolean
  format: DocumentFormat<Doc>
  before: Doc
  next: Doc
  changes: KeyChange[]
  /** Exactly the bytes apply writes. */
  text: string
  /** The mode of a file apply creates (default 0644; a script an agent runs is 0755). */
  mode?: number
}

/** The plan that sets each wanted key, skipping those that already hold the value. */
export function planEdit<Doc>(file: FileSnapshot, format: DocumentFormat<Doc>, before: Doc, wanted: readonly (readonly [SettingKey, unknown])[], where: { scope: string; projectDir?: string; shared?: boolean; mode?: number }): FilePlan<Doc> {
  let next = before
  const changes: KeyChange[] = []
  for (const [key, after] of wanted) {
    const was = format.get(next, key)
    if (isDeepStrictEqual(was, after)) continue
    next = format.with(next, key, after)
    changes.push({ key, before: was, after })
  }
  const text = changes.length === 0 ? file.text : format.serialize(next)
  return { file, scope: where.scope, ...(where.projectDir === undefined ? {} : { projectDir: where.projectDir }), ...(where.shared ? { shared: true } : {}), ...(where.mode === undefined ? {} : { mode: where.mode }), format, before, next, changes, text }
}

const HEADER_SECRETS = new Set(['AUTHORIZATION', 'PROXY-AUTHORIZATION', 'X-API-KEY', 'COOKIE'])

/** A key whose value a diff or the record never shows: credential-looking names (as Claude Code judges them) and credential headers. */
export function secretLookingKey(name: string): boolean {
  return strippedForProjectMcp(name) || HEADER_SECRETS.has(name.toUpperCase())
}

// ---- the diff: computed from the text written, so it shows exactly that ----

type Op = { kind: ' ' | '-' | '+'; line: string }

/** Lines with their line ends, so a missing final newline is a difference like any other. */
function linesOf(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? []
}

/** The largest middle (lines × lines) compared line by line; beyond it the middle is shown as replaced whole. */
const MAX_DIFF_CELLS = 4_000_000

function lineOps(before: string[], after: string[]): Op[] {
  let start = 0
  while (start < before.length && start < after.length && before[start] === after[start]) start++
  let endBefore = before.length
  let endAfter = after.length
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--
    endAfter--
  }
  const a = before.slice(start, endBefore)
  const b = after.slice(start, endAfter)
  const ops: Op[] = before.slice(0, start).map((line) => ({ kind: ' ', line }))
  if (a.length * b.length > MAX_DIFF_CELLS) {
    ops.push(...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line })))
  } else {
    // Longest common subsequence, from the end, so the walk below goes forward.
    const width = b.length + 1
    const lcs = new Uint32Array((a.length + 1) * width)
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) {
        lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!)
      }
    }
    let i = 0
    let j = 0
    while (i < a.length || j < b.length) {
      if (i < a.length && j < b.length && a[i] === b[j]) {
        ops.push({ kind: ' ', line: a[i]! })
        i++
        j++
      } else if (j < b.length && (i === a.length || lcs[i * width + j + 1]! >= lcs[(i + 1) * width + j]!)) {
        ops.push({ kind: '+', line: b[j++]! })
      } else {
        ops.push({ kind: '-', line: a[i++]! })
      }
    }
  }
  ops.push(...before.slice(endBefore).map((line) => ({ kind: ' ' as const, line })))
  return ops
}

/**
 * The change as a unified diff without context lines (`diff -U0`, which `patch`
 * applies): every line written that was not there, every line removed. Context would
 * print the file's other entries, tokens among them. A key whose name looks like a
 * credential shows `<hidden>` for its value, on either side.
 */
export function describeDiff(plan: FilePlan): string[] {
  const ops = lineOps(linesOf(plan.file.text), linesOf(plan.text))
  const out: string[] = []
  let oldLine = 0
  let newLine = 0
  for (let at = 0; at < ops.length;) {
    if (ops[at]!.kind === ' ') {
      oldLine++
      newLine++
      at++
      continue
    }
    let end = at
    while (end < ops.length && ops[end]!.kind !== ' ') end++
    const hunk = ops.slice(at, end)
    const removed = hunk.filter((op) => op.kind === '-')
    const added = hunk.filter((op) => op.kind === '+')
    const range = (line: number, count: number) => (count === 0 ? `${line},0` : count === 1 ? `${line + 1}` : `${line + 1},${count}`)
    out.push(`@@ -${range(oldLine, removed.length)} +${range(newLine, added.length)} @@`)
    for (const op of [...removed, ...added]) {
      const body = op.line.endsWith('\n') ? op.line.slice(0, -1) : op.line
      out.push(`${op.kind}${plan.format.hideValues(body, secretLookingKey)}`)
      if (!op.line.endsWith('\n')) out.push('\\ No newline at end of file')
    }
    oldLine += removed.length
    newLine += added.length
    at = end
  }
  return out
}

// ---- apply and undo ----

const FORMATS: Record<string, DocumentFormat<unknown>> = {
  JSON: jsonFormat as DocumentFormat<unknown>,
  TOML: tomlFormat as DocumentFormat<unknown>,
  text: wholeTextFormat as DocumentFormat<unknown>,
}

/** What git says about a project file: whether it is tracked, and the last commit that touched it. */
interface GitFacts {
  tracked: boolean
  lastCommit: string
}

/** What ccred remembers of a setup, to undo its own changes and nothing else. */
interface LedgerEntry {
  profile: string
  at: string
  existed: boolean
  /** The file as it was before ccred's first change, in the private state directory. */
  backupPath?: string
  format?: string
  projectDir?: string
  /** A file the project shares: undone whole, or left (undoSharedFile). */
  shared?: boolean
  /** sha256 of the text ccred last wrote: a project file that differs has been changed since. */
  writtenSha256?: string
  /** For a project file in a git work tree, as ccred left it. */
  git?: GitFacts
  /** For each key ccred changed: what it wrote; `removedSecret` when a credential-looking value was removed (kept only in the backup). */
  changes: { key: SettingKey; wrote: unknown; before?: unknown; hadBefore: boolean; removedSecret?: boolean }[]
}

type Ledger = Record<string, LedgerEntry>

/** Where apply keeps its record and backups: one record per command, so each undoes its own changes. */
export interface SetupRecord {
  /** The record's file, in the state directory. */
  ledgerPath: string
  /** The private directory for backups. */
  backupDir: string
}

const MAX_LEDGER_BYTES = 16 * 1024 * 1024

function readLedger(path: string): Ledger {
  const snapshot = readForEdit(path, { maxBytes: MAX_LEDGER_BYTES })
  if (!snapshot.exists) return {}
  try {
    return JSON.parse(snapshot.text) as Ledger
  } catch {
    throw new CcredError('ERR_CONFIG', `ccred's setup record ${path} is not valid JSON`, { hint: `restore the settings from the backups in ${dirname(path)} by hand, then delete ${path}` })
  }
}

function writeLedger(path: string, ledger: Ledger): void {
  ensurePrivateDir(dirname(path))
  if (Object.keys(ledger).length === 0) rmSync(path, { force: true })
  else writeAtomic(path, `${JSON.stringify(ledger, null, 2)}\n`, { mode: 0o600 })
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

/**
 * Writes each plan: the file as it was to a private backup (once: the first setup's
 * backup is the one undo restores), the new text atomically over the very file that
 * was read (a swap since is refused), and the record.
 */
export function applyPlans(plans: readonly FilePlan[], profile: string, record: SetupRecord, now: Date): void {
  for (const plan of plans) {
    if (plan.changes.length === 0) continue
    const ledger = readLedger(record.ledgerPath)
    const path = plan.file.path
    const previous = ledger[path]
    const entry: LedgerEntry = previous ?? {
      profile,
      at: now.toISOString(),
      existed: plan.file.exists,
      format: plan.format.name,
      ...(plan.projectDir === undefined ? {} : { projectDir: plan.projectDir }),
      ...(plan.shared ? { shared: true } : {}),
      changes: [],
    }
    if (previous === undefined && plan.file.exists) {
      entry.backupPath = join(ensurePrivateDir(record.backupDir), `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}-${basename(path)}`)
      writeAtomic(entry.backupPath, plan.file.text, { mode: 0o600, expected: { path: entry.backupPath, exists: false, text: '' } })
    }
    for (const change of plan.changes) {
      const known = entry.changes.find((c) => keyName(c.key) === keyName(change.key))
      if (known !== undefined) {
        known.wrote = change.after
        continue
      }
      const recorded: LedgerEntry['changes'][number] = { key: change.key, wrote: change.after, hadBefore: change.before !== undefined }
      if (change.after === undefined && secretLookingKey(change.key.at(-1)!)) recorded.removedSecret = true
      else if (change.before !== undefined) recorded.before = change.before
      entry.changes.push(recorded)
    }
    writeAtomic(path, plan.text, { expected: plan.file, mode: plan.mode ?? 0o644, ...(plan.projectDir === undefined ? {} : { within: plan.projectDir }) })
    entry.writtenSha256 = sha256(plan.text)
    const git = plan.shared ? gitFacts(path) : undefined
    if (git !== undefined && git !== 'unknown') entry.git = git
    ledger[path] = entry
    writeLedger(record.ledgerPath, ledger)
  }
}

export interface UndoResult {
  path: string
  restored: string[]
  /** Keys the user changed after setup: left as they are. */
  keptUserEdits: string[]
  /** The file is byte-for-byte what it was before setup (or gone again, if setup created it). */
  original: boolean
  /** Setup had created the file, and undo removed it again. */
  removed: boolean
  /** Why undo left the whole file as it is (a project file changed or committed since), and where its earlier version is. */
  left?: { why: string; backupPath?: string }
}

/** Reverts ccred's own changes in every file the record names. */
export function undoRecorded(ledgerPath: string, dryRun: boolean): UndoResult[] {
  const ledger = readLedger(ledgerPath)
  const results: UndoResult[] = []
  for (const [path, entry] of Object.entries(ledger)) {
    let result: UndoResult
    try {
      result = entry.shared ? undoSharedFile(path, entry, dryRun) : undoKeys(path, entry, dryRun)
    } catch (error) {
      // Refused or unreadable now (a link, invalid JSON): said, and kept in the record for a later undo.
      results.push({ path, restored: [], keptUserEdits: [], original: false, removed: false, left: { why: (error as Error).message, ...(entry.backupPath === undefined ? {} : { backupPath: entry.backupPath }) } })
      continue
    }
    if (!dryRun) {
      // A backup is removed once the file is back; when undo left the file, the user may still want it.
      if (entry.backupPath !== undefined && result.left === undefined) rmSync(entry.backupPath, { force: true })
      delete ledger[path]
    }
    results.push(result)
  }
  if (!dryRun) writeLedger(ledgerPath, ledger)
  return results
}

const within = (entry: LedgerEntry) => (entry.projectDir === undefined ? {} : { within: entry.projectDir })

function formatOf(entry: LedgerEntry): DocumentFormat<unknown> {
  const format = FORMATS[entry.format ?? 'JSON']
  if (format === undefined) throw new CcredError('ERR_CONFIG', `ccred's setup record names a file format this ccred does not know (${entry.format})`, { hint: 'run the undo with the ccred version that did the setup' })
  return format
}

function readBackup(entry: LedgerEntry): FileSnapshot | undefined {
  if (entry.backupPath === undefined) return undefined
  const backup = readForEdit(entry.backupPath, { maxBytes: MAX_LEDGER_BYTES * 4 })
  return backup.exists ? backup : undefined
}

/**
 * A file the project shares goes into commits: undo puts back the version from before setup (or
 * removes the file setup created) only while the file is exactly what ccred wrote and
 * git has not taken it since; otherwise it says so and leaves the file as it is.
 */
function undoSharedFile(path: string, entry: LedgerEntry, dryRun: boolean): UndoResult {
  const result: UndoResult = { path, restored: [], keptUserEdits: [], original: false, removed: false }
  const left = (why: string): UndoResult => ({ ...result, left: { why, ...(entry.backupPath === undefined ? {} : { backupPath: entry.backupPath }) } })
  let current: FileSnapshot
  try {
    current = readForEdit(path, { maxBytes: MAX_LEDGER_BYTES * 4, ...within(entry) })
  } catch (error) {
    return left((error as CcredError).message)
  }
  if (!current.exists) return left('it no longer exists')
  if (entry.writtenSha256 === undefined || sha256(current.text) !== entry.writtenSha256) return left('it has changed since ccred wrote it')
  const git = gitFacts(path)
  if (git === 'unknown') return left('git could not say whether it has been committed since')
  if (git !== undefined && (entry.git === undefined || git.tracked !== entry.git.tracked || git.lastCommit !== entry.git.lastCommit)) {
    return left(git.lastCommit !== (entry.git?.lastCommit ?? '') ? 'it has been committed to git since ccred wrote it' : 'it has been added to git since ccred wrote it')
  }
  const backup = entry.existed ? readBackup(entry) : undefined
  if (entry.existed && backup === undefined) return left(`its backup ${entry.backupPath ?? ''} is gone`)
  result.restored = entry.changes.map((change) => keyName(change.key))
  result.original = true
  if (!entry.existed) {
    result.removed = true
    if (!dryRun) rmSync(path)
  } else if (!dryRun) {
    writeAtomic(path, backup!.text, { expected: current, mode: 0o644, ...within(entry) })
  }
  return result
}

/**
 * A user's own file (Claude Code rewrites ~/.claude.json all the time; a local settings
 * file the user keeps editing): each key ccred
 * wrote is put back unless it was edited since; the file is removed again only when
 * setup created it and nothing is left.
 */
function undoKeys(path: string, entry: LedgerEntry, dryRun: boolean): UndoResult {
  const format = formatOf(entry)
  const current = readForEdit(path, { maxBytes: MAX_LEDGER_BYTES * 4, ...within(entry) })
  let next = format.parse(current.text, path)
  const result: UndoResult = { path, restored: [], keptUserEdits: [], original: false, removed: false }
  const backup = readBackup(entry)
  const backupDoc = backup === undefined ? undefined : format.parse(backup.text, entry.backupPath!)
  for (const change of entry.changes) {
    if (!isDeepStrictEqual(format.get(next, change.key), change.wrote)) {
      result.keptUserEdits.push(keyName(change.key))
      continue
    }
    const before = change.removedSecret ? (backupDoc === undefined ? undefined : format.get(backupDoc, change.key)) : change.before
    next = format.with(next, change.key, change.hadBefore ? before : undefined)
    result.restored.push(keyName(change.key))
  }
  const backToBackup = backupDoc !== undefined && isDeepStrictEqual(next, backupDoc)
  result.removed = !backToBackup && !entry.existed && format.serialize(next) === format.serialize(format.parse('', path))
  result.original = backToBackup || result.removed
  if (!dryRun && current.exists) {
    if (backToBackup) writeAtomic(path, backup!.text, { expected: current, mode: 0o644, ...within(entry) })
    else if (result.removed) rmSync(path)
    else writeAtomic(path, format.serialize(next), { expected: current, mode: 0o644, ...within(entry) })
  }
  return result
}

/**
 * Whether git tracks the file and its last commit, if it is in a git work tree
 * (undefined: not in one, or no git); 'unknown' when git answers with an error. The
 * repository may be hostile: git runs with no fsmonitor and no pager, reading only.
 */
function gitFacts(path: string): GitFacts | 'unknown' | undefined {
  const git = (args: string[]) => spawnSync('git', ['-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false', '--no-pager', '-C', dirname(path), ...args], {
    encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' },
  })
  const inside = git(['rev-parse', '--is-inside-work-tree'])
  if (inside.error !== undefined) return undefined
  if (inside.status !== 0) return /not a git repository/i.test(inside.stderr) ? undefined : 'unknown'
  if (inside.stdout.trim() !== 'true') return undefined
  const tracked = git(['ls-files', '--error-unmatch', '--', basename(path)]).status === 0
  const log = git(['log', '-1', '--format=%H', '--', basename(path)])
  return { tracked, lastCommit: log.status === 0 ? log.stdout.trim() : '' }
}
