import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Sandbox } from '../test/helpers/sandbox.js'
import { processStartedAtMs } from '../src/client/daemon-request.js'
import { int, isMain, log, ms, numberOption, printMachine, processRssKb, rawRequest, summarize, type Log, type Summary } from './lib.js'
import type { CredentialRequest } from '../src/protocol.js'

/**
 * Load: many clients at once across several profiles of mixed sources (none needs
 * the network: demo, static from env and file, exec with a JSON expiry, jwt HS256
 * and ES256), through the real daemon over its socket. Most requests are raw HTTP
 * (the body the CLI sends, one connection each); a smaller share runs the real CLI.
 * Reports errors (the goal is 0), req/s, p50/p99 and the daemon's RSS after the
 * load against its RSS right after start. Bounded: a request cap and a deadline.
 */

export interface LoadOptions {
  clients: number
  getsPerClient: number
  /** Real `ccred get` processes run alongside the raw clients (0: none). */
  cliGets: number
  /** The whole run stops after this, finished or not. */
  budgetMs: number
  out: Log
}

export interface LoadBenchResult {
  clients: number
  getsPerClient: number
  profiles: number
  requests: number
  errors: number
  firstError?: string
  elapsedMs: number
  rps: number
  latency: Summary
  served: Record<string, number>
  cli?: { gets: number; errors: number; latency: Summary }
  rssStartKb?: number
  /** After one get of each profile, before the load. */
  rssPrimedKb?: number
  rssAfterKb?: number
  rssPeakKb?: number
}

/** The profiles under load; each name tells its source. */
function writeWorld(sandbox: Sandbox): { profiles: string[]; env: Record<string, string> } {
  const es256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const es256Path = sandbox.file('es256.pem')
  writeFileSync(es256Path, es256, { mode: 0o600 })
  const staticPath = sandbox.file('static.key')
  writeFileSync(staticPath, `file-key-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 })
  const execJson = (lifetimeS: number) => sandbox.writeScript(`exec-${lifetimeS}.sh`,
    `#!/bin/sh\nprintf '{"token": "exec-%s", "expires_in": ${lifetimeS}}\\n' "$$"\n`)
  const execPlain = sandbox.writeScript('exec-plain.sh', '#!/bin/sh\necho exec-plain-token\n')
  const env = {
    LOAD_STATIC_KEY: `env-key-${randomBytes(16).toString('hex')}`,
    LOAD_HS256_KEY: randomBytes(48).toString('base64url'),
    LOAD_HS512_KEY: randomBytes(64).toString('base64url'),
  }
  sandbox.writeConfig([
    '[profiles.demo]\nsource = "demo"\n',
    '[profiles.static-env]\nsource = "static"\nvalue = "env:LOAD_STATIC_KEY"\n',
    `[profiles.static-file]\nsource = "static"\nvalue = "file:${staticPath}"\nheader = "proxy-authorization"\n`,
    `[profiles.exec-1h]\nsource = "exec"\ncommand = ["${execJson(3600)}"]\n`,
    `[profiles.exec-2h]\nsource = "exec"\ncommand = ["${execJson(7200)}"]\n`,
    `[profiles.exec-plain]\nsource = "exec"\ncommand = ["${execPlain}"]\nlifetime = "1h"\n`,
    '[profiles.jwt-hs256]\nsource = "jwt"\n[profiles.jwt-hs256.jwt]\nalgorithm = "HS256"\nkey = "env:LOAD_HS256_KEY"\nclaims = { sub = "${USER}", aud = "gw" }\n',
    '[profiles.jwt-hs512]\nsource = "jwt"\n[profiles.jwt-hs512.jwt]\nalgorithm = "HS512"\nkey = "env:LOAD_HS512_KEY"\nlifetime = "2h"\n',
    `[profiles.jwt-es256]\nsource = "jwt"\n[profiles.jwt-es256.jwt]\nalgorithm = "ES256"\nkey = "file:${es256Path}"\nclaims = { iss = "ccred", aud = "litellm" }\n`,
    `[profiles.jwt-es256-10m]\nsource = "jwt"\n[profiles.jwt-es256-10m.jwt]\nalgorithm = "ES256"\nkey = "file:${es256Path}"\nlifetime = "10m"\n`,
  ].join('\n'))
  return {
    profiles: ['demo', 'static-env', 'static-file', 'exec-1h', 'exec-2h', 'exec-plain', 'jwt-hs256', 'jwt-hs512', 'jwt-es256', 'jwt-es256-10m'],
    env,
  }
}

export async function benchLoad(options: LoadOptions): Promise<LoadBenchResult> {
  const { out } = options
  const deadline = performance.now() + options.budgetMs
  const sandbox = new Sandbox()
  try {
    const { profiles, env } = writeWorld(sandbox)
    Object.assign(sandbox.env, env)
    // Diagnostics: V8 flags for the daemon (it inherits the environment of the get that starts it).
    const daemonNodeOptions = process.env.CCRED_BENCH_DAEMON_NODE_OPTIONS
    if (daemonNodeOptions !== undefined) {
      sandbox.env.NODE_OPTIONS = daemonNodeOptions
      out(`  daemon NODE_OPTIONS=${daemonNodeOptions}`)
    }
    out(`load: ${options.clients} concurrent clients × ${options.getsPerClient} gets across ${profiles.length} profiles (demo, static env/file, exec JSON expiry, jwt HS256/HS512/ES256), raw HTTP, one connection per get` +
      (options.cliGets > 0 ? `; plus ${options.cliGets} real \`ccred get\` processes` : ''))
    // The first get autostarts the daemon; its RSS then, and once every profile is cached, are the baselines.
    const first = await sandbox.run(['get', 'demo'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming \`ccred get demo\` failed (exit ${first.code}): ${first.stderr.trim()}`)
    const daemonPid = sandbox.daemonPid()
    const rssStart = daemonPid === undefined ? undefined : processRssKb(daemonPid)
    const socket = join(sandbox.runtimeDir, 'ccred.sock')
    // The body the real CLI sends (src/client/daemon-request.ts), one per profile.
    const bodies = profiles.map((profile) => JSON.stringify({
      profile, callerTtlMs: 300_000, forceRefresh: false, clientPid: process.pid, clientParentPid: process.ppid,
      clientStartedAtMs: processStartedAtMs(), interactive: false, configPath: sandbox.configPath,
    } satisfies CredentialRequest))

    // Each profile fetched once (jose loaded, keys parsed, scripts run): what the daemon holds before any load.
    for (const body of bodies) {
      const primed = await rawRequest(socket, 'POST', '/v1/credential', body, 20_000)
      if (primed.status !== 200) throw new Error(`priming failed: HTTP ${primed.status}: ${primed.body.slice(0, 200)}`)
    }
    const rssPrimed = daemonPid === undefined ? undefined : processRssKb(daemonPid)

    const latencies: number[] = []
    const served: Record<string, number> = {}
    let errors = 0
    let firstError: string | undefined
    const fail = (what: string) => {
      errors++
      firstError ??= what
    }
    const client = async (index: number) => {
      for (let i = 0; i < options.getsPerClient; i++) {
        if (performance.now() > deadline) return fail('the time budget ran out')
        const p = (index + i) % profiles.length
        try {
          const response = await rawRequest(socket, 'POST', '/v1/credential', bodies[p], 10_000)
          latencies.push(response.latencyMs)
          const how = /"served":"(\w+)"/.exec(response.body)?.[1]
          if (response.status !== 200 || how === undefined || !response.body.includes(`"profile":"${profiles[p]}"`)) {
            fail(`${profiles[p]}: HTTP ${response.status}: ${response.body.slice(0, 200)}`)
            continue
          }
          served[how] = (served[how] ?? 0) + 1
        } catch (error) {
          fail(`${profiles[p]}: ${(error as Error).message}`)
        }
      }
    }
    // Real CLI gets, a few at a time so they do not starve the raw clients of the two cores.
    const cliLatencies: number[] = []
    let cliErrors = 0
    const cliWorker = async (index: number, count: number) => {
      for (let i = 0; i < count; i++) {
        if (performance.now() > deadline) return void cliErrors++
        const profile = profiles[(index + i) % profiles.length]!
        const started = performance.now()
        const result = await sandbox.run(['get', profile], { timeoutMs: 20_000 }).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }))
        cliLatencies.push(performance.now() - started)
        if (result.code !== 0 || result.stdout.trim() === '') {
          cliErrors++
          firstError ??= `ccred get ${profile}: exit ${result.code}: ${result.stderr.trim().split('\n')[0]}`
        }
      }
    }
    const cliWorkers = Math.min(4, options.cliGets)
    const started = performance.now()
    await Promise.all([
      ...Array.from({ length: options.clients }, (_, i) => client(i)),
      ...Array.from({ length: cliWorkers }, (_, i) => cliWorker(i, Math.floor(options.cliGets / cliWorkers) + (i < options.cliGets % cliWorkers ? 1 : 0))),
    ])
    const elapsedMs = performance.now() - started
    const rssAfter = daemonPid === undefined ? undefined : processRssKb(daemonPid)

    const result: LoadBenchResult = {
      clients: options.clients,
      getsPerClient: options.getsPerClient,
      profiles: profiles.length,
      requests: latencies.length,
      errors,
      elapsedMs,
      rps: (latencies.length / elapsedMs) * 1000,
      latency: summarize(latencies),
      served,
    }
    if (firstError !== undefined) result.firstError = firstError
    if (options.cliGets > 0) result.cli = { gets: cliLatencies.length, errors: cliErrors, latency: summarize(cliLatencies) }
    if (rssStart !== undefined) result.rssStartKb = rssStart.rssKb
    if (rssPrimed !== undefined) result.rssPrimedKb = rssPrimed.rssKb
    if (rssAfter !== undefined) {
      result.rssAfterKb = rssAfter.rssKb
      result.rssPeakKb = rssAfter.peakKb
    }
    const servedText = Object.entries(served).map(([k, v]) => `${k} ${int(v)}`).join(', ')
    out(`  raw HTTP: ${int(result.requests)} gets in ${(elapsedMs / 1000).toFixed(1)} s, ${errors} errors, ${int(result.rps)} req/s, p50 ${ms(result.latency.p50, 2)}, p99 ${ms(result.latency.p99, 2)}, max ${ms(result.latency.max, 1)}; served: ${servedText}`)
    if (result.cli !== undefined) out(`  real CLI (alongside): ${result.cli.gets} \`ccred get\`, ${result.cli.errors} errors, p50 ${ms(result.cli.latency.p50, 1)}, p99 ${ms(result.cli.latency.p99, 1)}`)
    if (firstError !== undefined) out(`  first error: ${firstError}`)
    if (rssStart !== undefined && rssAfter !== undefined) {
      out(`  daemon RSS: ${int(rssStart.rssKb / 1024)} MiB after start, ${rssPrimed === undefined ? '' : `${int(rssPrimed.rssKb / 1024)} MiB with every profile fetched once, `}${int(rssAfter.rssKb / 1024)} MiB after the load (peak ${int(rssAfter.peakKb / 1024)} MiB; target ≤ 80 MiB)`)
    }
    return result
  } finally {
    await sandbox.cleanup()
  }
}

export function loadOptionsFromArgs(out: Log = log): LoadOptions {
  return {
    clients: numberOption('load-clients', 200, 1, 2000),
    getsPerClient: numberOption('load-gets', 50, 1, 10_000),
    cliGets: numberOption('load-cli-gets', 40, 0, 1000),
    budgetMs: numberOption('load-budget-ms', 120_000, 1_000, 600_000),
    out,
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  const result = await benchLoad(loadOptionsFromArgs())
  if (result.errors > 0 || (result.cli?.errors ?? 0) > 0) process.exitCode = 1
}
