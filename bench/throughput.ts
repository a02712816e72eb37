import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Sandbox } from '../test/helpers/sandbox.js'
import { int, isMain, log, machineBusyPct, machineCpuTicks, ms, numberOption, printMachine, processCpuMs, processRssKb, rawRequest, ratio, sleep, summarize, type Log, type Summary } from './lib.js'
import type { CredentialRequest } from '../src/protocol.js'
import { processStartedAtMs } from '../src/client/daemon-request.js'

/**
 * Daemon throughput and latency under concurrent clients, each request on its
 * own connection with `Connection: close` (as `ccred get` does), against a warm
 * profile. The daemon runs in its own process (autostarted by `ccred get`); a
 * minimal node:http server in another process, measured in the same run, is the
 * baseline.
 */

export interface ThroughputOptions {
  concurrency: number
  durationMs: number
  /** Upper bound on requests per phase, whatever the duration. */
  maxRequests: number
  /** Also run the short diagnostic phases (no clientPid; audit off). */
  diagnostics: boolean
  out: Log
}

export interface LoadResult {
  label: string
  requests: number
  errors: number
  non200: number
  elapsedMs: number
  rps: number
  latency: Summary
  served: Record<string, number>
  /** CPU used by the server process during the phase, as % of one core. */
  serverCpuPct?: number
  /** CPU used by this (load generator) process during the phase, as % of one core. */
  clientCpuPct: number
  /** Share of all the machine's cores that was busy during the phase. */
  machineBusyPct?: number
}

export interface ThroughputResult {
  concurrency: number
  baseline: LoadResult
  ccred: LoadResult
  /** ccred req/s ÷ baseline req/s */
  ratio: number
  diagnostics: LoadResult[]
  daemonRssKb?: { rssKb: number; peakKb: number }
}

const BASELINE_SERVER = `
const { createServer } = require('node:http')
const body = JSON.stringify({ profile: 'demo', source: 'demo', header: 'authorization', value: 'ccred-demo-' + '0'.repeat(32), scheme: 'Bearer', served: 'hit', expiresAt: new Date(Date.now() + 600000).toISOString() })
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
    res.end(body)
  })
})
server.keepAliveTimeout = 5000
server.listen(process.argv[1], () => process.stdout.write('ready\\n'))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
`

function startBaseline(socket: string, env: Record<string, string>): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', BASELINE_SERVER, socket], { env, stdio: ['ignore', 'pipe', 'inherit'] })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('baseline server did not start within 10 s'))
    }, 10_000)
    child.stdout!.setEncoding('utf8').once('data', () => {
      clearTimeout(timer)
      resolve(child)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`baseline server exited (${code})`))
    })
  })
}

/**
 * `concurrency` clients, each sending one request at a time on a fresh
 * connection, until the duration or the request cap is reached.
 */
async function load(label: string, socket: string, method: 'GET' | 'POST', path: string, body: string | undefined, options: ThroughputOptions, serverPid: number | undefined): Promise<LoadResult> {
  const latencies: number[] = []
  const served: Record<string, number> = {}
  let issued = 0
  let errors = 0
  let non200 = 0
  let firstError: string | undefined
  const cpuBefore = serverPid === undefined ? undefined : processCpuMs(serverPid)
  const clientCpuBefore = process.cpuUsage()
  const machineBefore = machineCpuTicks()
  const started = performance.now()
  const deadline = started + options.durationMs
  const client = async () => {
    while (performance.now() < deadline && issued < options.maxRequests) {
      issued++
      try {
        const response = await rawRequest(socket, method, path, body, 5_000)
        latencies.push(response.latencyMs)
        if (response.status !== 200) {
          non200++
          firstError ??= `HTTP ${response.status}: ${response.body.slice(0, 200)}`
        }
        const how = /"served":"(\w+)"/.exec(response.body)?.[1] ?? 'other'
        served[how] = (served[how] ?? 0) + 1
      } catch (error) {
        errors++
        firstError ??= (error as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, client))
  const elapsedMs = performance.now() - started
  const cpuAfter = serverPid === undefined ? undefined : processCpuMs(serverPid)
  const clientCpu = process.cpuUsage(clientCpuBefore)
  const machineBusy = machineBusyPct(machineBefore, machineCpuTicks())
  const result: LoadResult = {
    label,
    requests: latencies.length,
    errors,
    non200,
    elapsedMs,
    rps: (latencies.length / elapsedMs) * 1000,
    latency: summarize(latencies),
    served,
    clientCpuPct: ((clientCpu.user + clientCpu.system) / 1000 / elapsedMs) * 100,
  }
  if (machineBusy !== undefined) result.machineBusyPct = machineBusy
  if (cpuBefore !== undefined && cpuAfter !== undefined) result.serverCpuPct = ((cpuAfter - cpuBefore) / elapsedMs) * 100
  if (firstError !== undefined) options.out(`  ${label}: first error: ${firstError}`)
  return result
}

function describe(result: LoadResult): string {
  const { latency } = result
  const servedText = Object.entries(result.served).map(([k, v]) => `${k} ${int(v)}`).join(', ')
  const cpu = `cpu: server ${result.serverCpuPct === undefined ? 'n/a' : `${result.serverCpuPct.toFixed(0)}%`}, load generator ${result.clientCpuPct.toFixed(0)}% (of one core); machine ${result.machineBusyPct === undefined ? 'n/a' : `${result.machineBusyPct.toFixed(0)}%`} of all cores busy`
  return `  ${result.label.padEnd(40)} ${int(result.rps).padStart(7)} req/s  p50 ${ms(latency.p50, 2)}  p99 ${ms(latency.p99, 2)}  max ${ms(latency.max, 2)}  ` +
    `(${int(result.requests)} requests in ${(result.elapsedMs / 1000).toFixed(1)} s${result.errors > 0 ? `, ${result.errors} errors` : ''}${result.non200 > 0 ? `, ${result.non200} non-200` : ''}; ${cpu}${servedText === '' ? '' : `; served: ${servedText}`})`
}

export async function benchThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const { out } = options
  const sandbox = new Sandbox()
  let baselineServer: ChildProcess | undefined
  try {
    out(`throughput: ${options.concurrency} concurrent clients, one Connection: close request each at a time, ${options.durationMs / 1000} s per phase (cap ${int(options.maxRequests)} requests)`)
    const first = await sandbox.run(['get', 'demo'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming \`ccred get demo\` failed (exit ${first.code}): ${first.stderr.trim()}`)
    const daemonPid = sandbox.daemonPid()
    const socket = join(sandbox.runtimeDir, 'ccred.sock')
    const baselineSocket = join(sandbox.root, 'baseline.sock')
    baselineServer = await startBaseline(baselineSocket, sandbox.env)

    // The body the real CLI sends (src/client/daemon-request.ts); clientPid is this process, whose
    // nearest non-shell ancestor the daemon looks up per request, as it does for Claude Code.
    const cliBody = JSON.stringify({
      profile: 'demo', callerTtlMs: 300_000, forceRefresh: false, clientPid: process.pid, clientParentPid: process.ppid,
      clientStartedAtMs: processStartedAtMs(), interactive: false, configPath: sandbox.configPath,
    } satisfies CredentialRequest)
    const warm = { ...options, durationMs: Math.min(500, options.durationMs), maxRequests: Math.min(2_000, options.maxRequests), out: () => undefined }
    await load('warm-up', baselineSocket, 'POST', '/v1/credential', cliBody, warm, undefined)
    await load('warm-up', socket, 'POST', '/v1/credential', cliBody, warm, undefined)

    const baseline = await load('baseline: bare node:http server', baselineSocket, 'POST', '/v1/credential', cliBody, options, baselineServer.pid)
    out(describe(baseline))
    const ccred = await load('ccred daemon, POST /v1/credential', socket, 'POST', '/v1/credential', cliBody, options, daemonPid)
    out(describe(ccred))
    const result: ThroughputResult = { concurrency: options.concurrency, baseline, ccred, ratio: ccred.rps / baseline.rps, diagnostics: [] }
    out(`  ccred ÷ baseline: ${ratio(result.ratio)} of the bare server's req/s (targets: ≥ 5,000 req/s, p99 ≤ 5 ms)`)
    // Little's law for a closed loop: every client always has one request outstanding.
    out(`  note: with ${options.concurrency} clients always waiting, mean latency = ${options.concurrency} / req/s; p99 ≤ 5 ms needs well over ${int(options.concurrency / 0.005)} req/s`)

    if (options.diagnostics) {
      const short = { ...options, durationMs: Math.max(500, Math.round(options.durationMs / 2)) }
      // Unloaded latency: what one `ccred get` waits for the daemon (the CLI's body, default config).
      const single = await load('diag: 1 client (unloaded)', socket, 'POST', '/v1/credential', cliBody, { ...short, concurrency: 1, durationMs: 1_000 }, daemonPid)
      out(describe(single))
      // Where the daemon's per-request time goes: the same load without the caller lookup
      // (no clientPid: no /proc walk), then also with the audit log switched off.
      const noPidBody = JSON.stringify({ profile: 'demo', callerTtlMs: 300_000, forceRefresh: false, interactive: false, configPath: sandbox.configPath } satisfies CredentialRequest)
      const noPid = await load('diag: no clientPid', socket, 'POST', '/v1/credential', noPidBody, short, daemonPid)
      out(describe(noPid))
      // Same profile table, so the cached value survives the reload; only [broker] changes.
      sandbox.writeConfig('[broker]\naudit = false\n\n[profiles.demo]\nsource = "demo"\n')
      await rawRequest(socket, 'POST', '/v1/credential', noPidBody)
      const noAudit = await load('diag: no clientPid, audit = false', socket, 'POST', '/v1/credential', noPidBody, short, daemonPid)
      out(describe(noAudit))
      const health = await load('diag: GET /v1/health', socket, 'GET', '/v1/health', undefined, short, daemonPid)
      out(describe(health))
      result.diagnostics.push(single, noPid, noAudit, health)
    }
    const rss = daemonPid === undefined ? undefined : processRssKb(daemonPid)
    if (rss !== undefined) {
      result.daemonRssKb = rss
      const baselineRss = baselineServer.pid === undefined ? undefined : processRssKb(baselineServer.pid)
      out(`  RSS after load: daemon ${int(rss.rssKb / 1024)} MiB (peak ${int(rss.peakKb / 1024)} MiB)` +
        (baselineRss === undefined ? '' : `; bare server ${int(baselineRss.rssKb / 1024)} MiB (peak ${int(baselineRss.peakKb / 1024)} MiB)`))
    }
    return result
  } finally {
    if (baselineServer !== undefined && baselineServer.exitCode === null) {
      const exited = new Promise((resolve) => baselineServer!.once('exit', resolve))
      baselineServer.kill('SIGTERM')
      await Promise.race([exited, sleep(2_000)])
      if (baselineServer.exitCode === null) baselineServer.kill('SIGKILL')
    }
    await sandbox.cleanup()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchThroughput({
    concurrency: numberOption('concurrency', 64, 1, 1024),
    durationMs: numberOption('seconds', 5, 0.5, 60) * 1000,
    maxRequests: numberOption('requests', 1_000_000, 100, 10_000_000),
    diagnostics: numberOption('diagnostics', 1, 0, 1) === 1,
    out: log,
  })
}
