import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Sandbox, type CliResult } from '../test/helpers/sandbox.js'
import { isMain, log, ms, numberOption, printMachine, rawRequest, summarize, type Log, type RawResponse } from './lib.js'
import type { CredentialRequest } from '../src/protocol.js'

/**
 * Cold single-flight: a slow exec profile (the script counts its runs, sleeps
 * 200 ms, prints a token) asked for by many clients at once. Prints how many
 * times the script ran and how long the burst took.
 */

export interface SingleFlightOptions {
  httpClients: number
  cliClients: number
  out: Log
}

export interface FlightResult {
  label: string
  clients: number
  scriptRuns: number
  wallMs: number
  ok: number
  failed: number
  distinctValues: number
  /** Slowest single client, ms. */
  slowestMs: number
  daemonsStarted?: number
  /** From the daemon's status: upstream fetches and how many of them were 401-style re-issues. */
  daemonFetches?: number
  daemonReissues?: number
}

export interface SingleFlightResult {
  http: FlightResult
  cli: FlightResult
  /** The CLI burst again with CLAUDE_CODE_API_KEY_HELPER_TTL_MS=0, which turns off the 401-style re-issue. */
  cliNoReissue: FlightResult
  autostart: FlightResult
}

const SCRIPT_SLEEP = '0.2'

/** A script that appends one line per run to `counter`, sleeps 200 ms, then prints a token. */
function slowScript(sandbox: Sandbox, name: string): { path: string; counter: string } {
  const counter = sandbox.file(`${name}.count`)
  const path = sandbox.writeScript(`${name}.sh`, `#!/bin/sh\necho "$$" >> '${counter}'\nsleep ${SCRIPT_SLEEP}\necho "sf-token-$$-$(date +%s)"\n`)
  return { path, counter }
}

function runsOf(counter: string): number {
  return existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter((line) => line !== '').length : 0
}

function profileToml(name: string, script: string): string {
  return `[profiles.${name}]\nsource = "exec"\ncommand = [${JSON.stringify(script)}]\nlifetime = "10m"\n`
}

async function burstCli(sandbox: Sandbox, profile: string, clients: number, env: Record<string, string> = {}): Promise<{ results: (CliResult & { ms: number })[]; wallMs: number }> {
  const started = performance.now()
  const results = await Promise.all(Array.from({ length: clients }, async () => {
    const t0 = performance.now()
    const result = await sandbox.run(['get', profile], { timeoutMs: 30_000, env })
    return { ...result, ms: performance.now() - t0 }
  }))
  return { results, wallMs: performance.now() - started }
}

function cliFlight(label: string, counter: string, burst: { results: (CliResult & { ms: number })[]; wallMs: number }, out: Log): FlightResult {
  const ok = burst.results.filter((r) => r.code === 0 && r.stdout.startsWith('sf-token-'))
  const failed = burst.results.filter((r) => !ok.includes(r))
  if (failed[0] !== undefined) out(`  ${label}: ${failed.length} failed; first: exit ${failed[0].code}: ${failed[0].stderr.trim().slice(0, 300)}`)
  return {
    label,
    clients: burst.results.length,
    scriptRuns: runsOf(counter),
    wallMs: burst.wallMs,
    ok: ok.length,
    failed: failed.length,
    distinctValues: new Set(ok.map((r) => r.stdout.trim())).size,
    slowestMs: summarize(burst.results.map((r) => r.ms)).max,
  }
}

/** Adds the daemon's own fetch / re-issue counters for `profile` to `result`. */
async function addCounters(sandbox: Sandbox, profile: string, result: FlightResult): Promise<void> {
  try {
    const status = await rawRequest(join(sandbox.runtimeDir, 'ccred.sock'), 'GET', '/v1/status', undefined, 5_000)
    const entry = (JSON.parse(status.body) as { profiles?: { profile: string; fetches: number; reissues: number }[] }).profiles?.find((p) => p.profile === profile)
    if (entry !== undefined) {
      result.daemonFetches = entry.fetches
      result.daemonReissues = entry.reissues
    }
  } catch { /* informative only */ }
}

function describe(result: FlightResult): string {
  return `  ${result.label.padEnd(44)} script ran ${result.scriptRuns}× (target 1)  wall ${ms(result.wallMs, 0)}  ` +
    `${result.ok}/${result.clients} ok, ${result.distinctValues} distinct value${result.distinctValues === 1 ? '' : 's'}` +
    (result.daemonsStarted === undefined ? '' : `, ${result.daemonsStarted} daemon${result.daemonsStarted === 1 ? '' : 's'} listened`) +
    (result.daemonFetches === undefined ? '' : `; daemon: ${result.daemonFetches} fetch${result.daemonFetches === 1 ? '' : 'es'}, of which ${result.daemonReissues ?? 0} 401-style re-issue${result.daemonReissues === 1 ? '' : 's'}`)
}

export async function benchSingleFlight(options: SingleFlightOptions): Promise<SingleFlightResult> {
  const { out } = options
  out(`single-flight: exec profile whose script sleeps ${SCRIPT_SLEEP}s; cold profile, concurrent requests`)

  // Daemon already running, profiles cold.
  const sandbox = new Sandbox()
  let http: FlightResult
  let cli: FlightResult
  let cliNoReissue: FlightResult
  try {
    const httpScript = slowScript(sandbox, 'sf-http')
    const cliScript = slowScript(sandbox, 'sf-cli')
    const ttl0Script = slowScript(sandbox, 'sf-ttl0')
    sandbox.writeConfig([profileToml('sf-http', httpScript.path), profileToml('sf-cli', cliScript.path), profileToml('sf-ttl0', ttl0Script.path)].join('\n'))
    const start = await sandbox.run(['daemon', 'start'], { timeoutMs: 20_000 })
    if (start.code !== 0) throw new Error(`ccred daemon start failed (exit ${start.code}): ${start.stderr.trim()}`)
    const socket = join(sandbox.runtimeDir, 'ccred.sock')

    const body = JSON.stringify({ profile: 'sf-http', callerTtlMs: 300_000, forceRefresh: false, interactive: false, configPath: sandbox.configPath } satisfies CredentialRequest)
    const started = performance.now()
    const settled = await Promise.allSettled(Array.from({ length: options.httpClients }, () => rawRequest(socket, 'POST', '/v1/credential', body, 30_000)))
    const wallMs = performance.now() - started
    const responses = settled.filter((s): s is PromiseFulfilledResult<RawResponse> => s.status === 'fulfilled').map((s) => s.value)
    const good = responses.filter((r) => r.status === 200)
    const values = new Set(good.map((r) => (JSON.parse(r.body) as { value: string }).value))
    const served: Record<string, number> = {}
    for (const r of good) {
      const how = (JSON.parse(r.body) as { served: string }).served
      served[how] = (served[how] ?? 0) + 1
    }
    const firstBad = settled.find((s) => s.status === 'rejected') ?? responses.find((r) => r.status !== 200)
    if (firstBad !== undefined) out(`  first failure: ${'reason' in firstBad ? String(firstBad.reason) : `HTTP ${firstBad.status}: ${firstBad.body.slice(0, 200)}`}`)
    http = {
      label: `${options.httpClients} concurrent POST /v1/credential`,
      clients: options.httpClients,
      scriptRuns: runsOf(httpScript.counter),
      wallMs,
      ok: good.length,
      failed: options.httpClients - good.length,
      distinctValues: values.size,
      slowestMs: summarize(responses.map((r) => r.latencyMs)).max,
    }
    await addCounters(sandbox, 'sf-http', http)
    out(`${describe(http)}  (served: ${Object.entries(served).map(([k, v]) => `${k} ${v}`).join(', ')})`)

    cli = cliFlight(`${options.cliClients} concurrent \`ccred get\` processes`, cliScript.counter, await burstCli(sandbox, 'sf-cli', options.cliClients), out)
    await addCounters(sandbox, 'sf-cli', cli)
    out(describe(cli))

    // All the CLI processes share one caller (this process), so after the first answer the others look
    // like Claude Code re-running its helper after a 401. With a helper TTL of 0 that heuristic is off,
    // which isolates single-flight itself.
    const ttl0Burst = await burstCli(sandbox, 'sf-ttl0', options.cliClients, { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' })
    cliNoReissue = cliFlight(`${options.cliClients} concurrent \`ccred get\`, helper TTL 0`, ttl0Script.counter, ttl0Burst, out)
    await addCounters(sandbox, 'sf-ttl0', cliNoReissue)
    out(describe(cliNoReissue))
  } finally {
    await sandbox.cleanup()
  }

  // Daemon not running: the same burst of CLI processes must also start exactly one daemon.
  const cold = new Sandbox()
  let autostart: FlightResult
  try {
    const script = slowScript(cold, 'sf-auto')
    cold.writeConfig(profileToml('sf-auto', script.path))
    autostart = cliFlight(`${options.cliClients} concurrent \`ccred get\`, no daemon yet`, script.counter, await burstCli(cold, 'sf-auto', options.cliClients), out)
    autostart.daemonsStarted = cold.daemonLog().split('\n').filter((line) => line.includes('listening on')).length
    await addCounters(cold, 'sf-auto', autostart)
    out(describe(autostart))
  } finally {
    await cold.cleanup()
  }
  return { http, cli, cliNoReissue, autostart }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchSingleFlight({
    httpClients: numberOption('http-clients', 100, 1, 1000),
    cliClients: numberOption('cli-clients', 20, 1, 200),
    out: log,
  })
}
