import { REFRESH_FLOOR_FRACTION } from '../broker/budget.js'
import { withInProcessService } from '../client/in-process.js'
import { DaemonNotRunning, requestDaemon, unwrap } from '../client/transport.js'
import { formatDurationMs } from '../config/duration.js'
import { socketPath } from '../config/paths.js'
import { formatTable } from '../output/table.js'
import { ROUTES, type BudgetStatus, type StatusResponse } from '../protocol.js'
import type { Io } from './io.js'
import { hostPlatform, sshSessionNote } from '../platform.js'
import { sanitizeLine, stringifyJsonSafely } from '../text/sanitize.js'
import { EXIT_CODES } from '../errors.js'

/** Asks the running daemon; when none runs, reports the config alone (it never starts one). */
async function collectStatus(io: Io): Promise<StatusResponse> {
  const socket = socketPath(io.env)
  try {
    return unwrap<StatusResponse>(await requestDaemon(io.env, 'GET', ROUTES.status, undefined, 10_000))
  } catch (error) {
    if (!(error instanceof DaemonNotRunning)) throw error
  }
  return withInProcessService(io.env, async (service) => ({ daemon: { running: false, socket }, ...(await service.status()) }))
}

function relative(iso: string | undefined, nowMs: number): string {
  if (iso === undefined || iso === '') return '-'
  const deltaMs = Date.parse(iso) - nowMs
  return deltaMs >= 0 ? `in ${formatDurationMs(deltaMs)}` : `${formatDurationMs(-deltaMs)} ago`
}

/** "2/3 forced, backoff 30s": forced refreshes left of the bucket, and a failing source's backoff. */
function budgetCell(budget: BudgetStatus | undefined, nowMs: number): string {
  if (budget === undefined) return '-'
  const forced = `${budget.forcedTokens}/${budget.forcedCapacity} forced`
  return budget.backoffUntil === undefined ? forced : `${forced}, retry ${relative(budget.backoffUntil, nowMs)}`
}

type ProfileStatus = StatusResponse['profiles'][number]

interface StatusColumn {
  title: string
  /** Kept however narrow the terminal is. */
  required?: boolean
  cell(profile: ProfileStatus, nowMs: number): string
}

/**
 * The columns of the profile table, most useful first: the default set fits an
 * 80-column terminal for ordinary profile names; --wide adds the budget facts.
 */
function statusColumns(wide: boolean): StatusColumn[] {
  const columns: (StatusColumn & { wide?: boolean })[] = [
    { title: 'PROFILE', required: true, cell: (p) => p.profile },
    { title: 'SOURCE', required: true, cell: (p) => p.source },
    { title: 'HEADER', wide: true, cell: (p) => p.header },
    { title: 'CACHED', required: true, cell: (p) => (p.cached ? 'yes' : 'no') },
    { title: 'EXPIRES', required: true, cell: (p, nowMs) => (p.cached ? (p.expiresAt === undefined ? 'never' : relative(p.expiresAt, nowMs)) : '-') },
    { title: 'LAST ERROR', required: true, cell: (p) => (p.lastError === undefined ? '-' : `${p.lastError.code}${p.consecutiveFailures > 0 ? ` (${p.consecutiveFailures}x)` : ''}`) },
    { title: 'LAST REFRESH', wide: true, cell: (p, nowMs) => relative(p.lastRefreshAt, nowMs) },
    { title: 'NEXT REFRESH', cell: (p, nowMs) => relative(p.nextRefreshAt, nowMs) },
    { title: 'SAFE TTL', wide: true, cell: (p) => (p.budget?.safeHelperTtlMs === undefined ? '-' : `${p.budget.safeHelperTtlMs} ms`) },
    { title: 'BUDGET', wide: true, cell: (p, nowMs) => budgetCell(p.budget, nowMs) },
    { title: 'HITS', wide: true, cell: (p) => String(p.hits) },
    { title: 'FETCHES', cell: (p) => String(p.fetches) },
  ]
  return columns.filter((column) => wide || column.wide !== true)
}

/** The terminal's width when stdout is one (or COLUMNS says); undefined for a pipe, which gets every column asked for. */
function terminalWidth(io: Io): number | undefined {
  const fromEnv = Number(io.env.COLUMNS)
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv
  const columns = (io.stdout as { columns?: unknown; isTTY?: unknown }).columns
  return typeof columns === 'number' && columns > 0 ? columns : undefined
}

function widestLine(text: string): number {
  return Math.max(...text.split('\n').map((line) => line.length))
}

/** `ccred status [--json]`: daemon state and per-profile cache facts. Never a secret. */
export async function runStatus(options: { json?: boolean; wide?: boolean }, io: Io): Promise<number> {
  const status = await collectStatus(io)
  if (options.json) {
    io.stdout.write(stringifyJsonSafely(status, 2) + '\n')
    return EXIT_CODES.OK
  }
  const nowMs = Date.now()
  const d = status.daemon
  const lines: string[] = []
  lines.push(d.running
    ? `daemon:  running (pid ${d.pid}, version ${d.version}, up ${formatDurationMs(d.uptimeMs ?? 0)}, socket ${d.socket})`
    : `daemon:  not running (socket ${d.socket}); \`ccred get\` starts it`)
  // Which login started it: a daemon started over SSH keeps that session's keychain access for every caller.
  const sshNote = d.running && d.session === 'ssh' ? sshSessionNote((io.platform ?? hostPlatform(io.env)).os) : undefined
  if (d.running && d.session !== undefined) lines.push(`         started from ${d.session === 'ssh' ? 'an SSH session' : 'a local session'}${sshNote === undefined ? '' : `: ${sshNote}`}`)
  lines.push(`config:  ${status.config.fromFile ? status.config.path : `embedded default (no file at ${status.config.path}; run \`ccred init\`)`}`)
  if (status.config.error !== undefined) lines.push(`         error: ${status.config.error.message} [${status.config.error.code}]`)
  const availability = status.store.availability
  lines.push(`store:   ${availability?.ok === false ? availability.detail : `${status.store.description}${availability === undefined ? '' : ` ${availability.detail}`}`}`)
  if (availability?.hint !== undefined) lines.push(`         fix: ${availability.hint}`)
  lines.push(`audit:   ${status.audit === null ? 'off' : status.audit.path}`)
  if (status.callers !== undefined) lines.push(`callers: ${status.callers.problem}`)
  io.stdout.write(lines.map((line) => sanitizeLine(line)).join('\n') + '\n\n')
  if (status.profiles.length === 0) {
    io.stdout.write('no profiles configured\n')
    return EXIT_CODES.OK
  }
  const columns = statusColumns(options.wide === true)
  const rows = [columns.map((column) => column.title)]
  for (const p of status.profiles) rows.push(columns.map((column) => column.cell(p, nowMs)))
  // --wide asks for every column whatever the width (a pager or a wide window scrolls).
  const width = options.wide === true ? undefined : terminalWidth(io)
  let table = formatTable(rows)
  // Narrow terminals: drop the optional columns, least useful first, until the table fits.
  for (let drop = columns.length - 1; width !== undefined && widestLine(table) > width && drop > 0; drop--) {
    if (columns[drop]!.required) continue
    columns.splice(drop, 1)
    for (const row of rows) row.splice(drop, 1)
    table = formatTable(rows)
  }
  io.stdout.write(table)
  if (!options.wide) io.stdout.write('(more columns: ccred status --wide, or --json)\n')
  const notes = status.profiles.flatMap((p) => [
    ...(p.lastError === undefined ? [] : [`${p.profile}: last error: ${p.lastError.message}`]),
    ...(p.warning === undefined ? [] : [`${p.profile}: warning: ${p.warning}`]),
    ...(p.meta?.note === undefined ? [] : [`${p.profile}: ${p.meta.note}`]),
  ])
  const budget = status.profiles.find((p) => p.budget !== undefined)?.budget
  if (budget !== undefined) {
    notes.push(`budget: refresh-ahead no sooner than ${REFRESH_FLOOR_FRACTION * 100}% of a credential's lifetime after its fetch; ${budget.forcedCapacity} forced refreshes or re-issues, one more every ${formatDurationMs(budget.forcedRefillMs)}; a failing source is retried with backoff`)
  }
  if (notes.length > 0) io.stdout.write('\n' + notes.map((note) => sanitizeLine(note)).join('\n') + '\n')
  return EXIT_CODES.OK
}
