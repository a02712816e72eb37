import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { availableParallelism, cpus, platform, release } from 'node:os'
import { fileURLToPath } from 'node:url'

/**
 * Shared pieces for the benchmarks: statistics, a raw HTTP/1.1 client over a
 * Unix socket (the same shape of request the real CLI sends), option parsing.
 * Benchmarks print figures; nothing here asserts.
 */

export type Log = (line: string) => void

export const log: Log = (line) => process.stdout.write(`${line}\n`)

export function machineSummary(): { cores: number; cpuModel: string; node: string; os: string } {
  const list = cpus()
  return {
    cores: availableParallelism(),
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    os: `${platform()} ${release()}`,
  }
}

export function printMachine(out: Log = log): void {
  const m = machineSummary()
  out(`machine: ${m.cores} cores (${m.cpuModel}), node ${m.node}, ${m.os}`)
}

/** True when this module is the script node was started with. */
export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(importMetaUrl) === process.argv[1]
}

/**
 * A numeric option from `--name=N` (or `--name N`) on the command line, else
 * `CCRED_BENCH_NAME` in the environment, else the fallback. Clamped to [min, max].
 */
export function numberOption(name: string, fallback: number, min: number, max: number): number {
  const args = process.argv.slice(2)
  let text: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith(`--${name}=`)) text = arg.slice(name.length + 3)
    else if (arg === `--${name}` && i + 1 < args.length) text = args[i + 1]
  }
  text ??= process.env[`CCRED_BENCH_${name.toUpperCase().replace(/-/g, '_')}`]
  const value = text === undefined ? Number.NaN : Number(text)
  if (!Number.isFinite(value)) return fallback
  return Math.min(max, Math.max(min, value))
}

export interface Summary {
  count: number
  min: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  const total = sorted.reduce((sum, v) => sum + v, 0)
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : total / sorted.length,
  }
}

export function ms(value: number, digits = 1): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)} ms` : 'n/a'
}

export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a'
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a'
}

export function sleep(msToWait: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msToWait))
}

export interface RawResponse {
  status: number
  body: string
  /** From connect() to the server closing the connection. */
  latencyMs: number
}

/**
 * One HTTP/1.1 request on a fresh Unix-socket connection with `Connection: close`,
 * as `ccred get` does it (src/client/transport.ts). Reads until the server closes.
 */
export function rawRequest(socket: string, method: 'GET' | 'POST', path: string, body?: string, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const head = `${method} ${path} HTTP/1.1\r\nHost: ccred\r\nConnection: close\r\n` +
      (body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`) + '\r\n'
    const conn = connect(socket)
    const chunks: Buffer[] = []
    let done = false
    const finish = (error: Error | undefined) => {
      if (done) return
      done = true
      clearTimeout(timer)
      conn.destroy()
      if (error !== undefined) return reject(error)
      const text = Buffer.concat(chunks).toString('utf8')
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)
      const headerEnd = text.indexOf('\r\n\r\n')
      resolve({ status, body: headerEnd < 0 ? '' : text.slice(headerEnd + 4), latencyMs: performance.now() - started })
    }
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    conn.on('connect', () => conn.write(body === undefined ? head : head + body))
    conn.on('data', (chunk: Buffer) => chunks.push(chunk))
    conn.on('end', () => finish(undefined))
    conn.on('error', (error) => finish(error))
  })
}

/** CPU time (user + system) of another process in ms, from /proc (Linux only). */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks (100 Hz on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** Busy and total CPU time of the whole machine, in clock ticks, from /proc/stat (Linux only). */
export function machineCpuTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
    const values = line.trim().split(/\s+/).slice(1).map(Number)
    const total = values.reduce((sum, v) => sum + v, 0)
    const idle = (values[3] ?? 0) + (values[4] ?? 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}

/** Share of all cores that was busy between two machineCpuTicks() snapshots, in %. */
export function machineBusyPct(before: { busy: number; total: number } | undefined, after: { busy: number; total: number } | undefined): number | undefined {
  if (before === undefined || after === undefined || after.total <= before.total) return undefined
  return ((after.busy - before.busy) / (after.total - before.total)) * 100
}

/** Resident set size now and at its peak, in KiB, from /proc (Linux only). */
export function processRssKb(pid: number): { rssKb: number; peakKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)
    const peak = /^VmHWM:\s+(\d+) kB/m.exec(status)
    if (rss === null || peak === null) return undefined
    return { rssKb: Number(rss[1]), peakKb: Number(peak[1]) }
  } catch {
    return undefined
  }
}
