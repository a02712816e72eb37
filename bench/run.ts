import { benchJwtGet, type JwtGetResult } from './jwt-get.js'
import { benchKeychain, type KeychainBenchResult } from './keychain.js'
import { benchLoad, loadOptionsFromArgs, type LoadBenchResult } from './load.js'
import { benchSoak, type SoakDay } from './soak.js'
import { benchSingleFlight, type SingleFlightResult } from './single-flight.js'
import { benchThroughput, type ThroughputResult } from './throughput.js'
import { benchUpstreamBudget, type BudgetScenario } from './upstream-budget.js'
import { benchWarmGet, type WarmGetResult } from './warm-get.js'
import { int, log, machineSummary, ms, numberOption, printMachine, ratio } from './lib.js'

/**
 * `npm run bench`: the benchmarks in sequence, each in its own sandbox
 * (private HOME, config and daemon), then a Markdown summary for docs/benchmarks.md.
 * Options: --runs=N (warm get, default 30), --seconds=S (throughput phase, default 5),
 * --requests=N (throughput cap per phase), --concurrency=N (default 64),
 * --diagnostics=0 (skip the throughput breakdown), --http-clients=N, --cli-clients=N,
 * --load-clients=N, --load-gets=N, --load-cli-gets=N (the mixed-profile load, default 200 × 50 + 40 CLI gets).
 */

async function step<T>(name: string, work: () => Promise<T>): Promise<{ value?: T; error?: string; seconds: number }> {
  log('')
  const started = performance.now()
  try {
    const value = await work()
    return { value, seconds: (performance.now() - started) / 1000 }
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!
    log(`  ${name} did not complete: ${message}`)
    return { error: message, seconds: (performance.now() - started) / 1000 }
  }
}

const started = performance.now()
printMachine()

const warm = await step('warm-get', () => benchWarmGet({
  runs: numberOption('runs', 30, 20, 1000),
  budgetMs: numberOption('warm-budget-ms', 60_000, 1_000, 600_000),
  rssRuns: numberOption('rss-runs', 5, 0, 100),
  out: log,
}))
const jwt = await step('jwt-get', () => benchJwtGet({
  runs: numberOption('runs', 30, 20, 1000),
  budgetMs: numberOption('warm-budget-ms', 60_000, 1_000, 600_000),
  out: log,
}))
const load = await step('throughput', () => benchThroughput({
  concurrency: numberOption('concurrency', 64, 1, 1024),
  durationMs: numberOption('seconds', 5, 0.5, 60) * 1000,
  maxRequests: numberOption('requests', 1_000_000, 100, 10_000_000),
  diagnostics: numberOption('diagnostics', 1, 0, 1) === 1,
  out: log,
}))
const flight = await step('single-flight', () => benchSingleFlight({
  httpClients: numberOption('http-clients', 100, 1, 1000),
  cliClients: numberOption('cli-clients', 20, 1, 200),
  out: log,
}))
const mixed = await step('load', () => benchLoad(loadOptionsFromArgs(log)))
const soak = await step('soak', () => benchSoak(log))
const keychain = await step('keychain', () => benchKeychain({ runs: numberOption('keychain-runs', 50, 5, 1000), out: log }))
const budget = await step('upstream-budget', () => benchUpstreamBudget({ out: log }))

const rows: [string, string, string][] = []
const failed = (error: string | undefined) => `not measured (${error ?? 'error'})`

function warmRows(result: WarmGetResult | undefined, error?: string): void {
  if (result === undefined) return void rows.push(['warm `ccred get demo`', failed(error), '≤ 1.3× `node -e ""`'])
  rows.push([`warm \`ccred get demo\` (median / p90, ${result.runs} runs)`, `${ms(result.ccred.p50)} / ${ms(result.ccred.p90)}`, ''])
  rows.push([`\`node -e ""\` same run (median / p90)`, `${ms(result.node.p50)} / ${ms(result.node.p90)}`, ''])
  rows.push(['warm get ÷ bare node start (medians)', `${ratio(result.ratio)} (+${ms(result.ccred.p50 - result.node.p50)})`, '≤ 1.30×'])
  rows.push(['floor: minimal CommonJS socket client ÷ bare node start', `${ratio(result.floorRatio)} (+${ms(result.floor.p50 - result.node.p50)})`, ''])
  if (result.rssKb !== undefined) rows.push(['peak RSS: `ccred get` / `node -e ""`', `${int(result.rssKb.ccred / 1024)} MiB / ${int(result.rssKb.node / 1024)} MiB`, ''])
}

function jwtRows(result: JwtGetResult | undefined, error?: string): void {
  if (result === undefined) return void rows.push(['warm `ccred get` of a jwt profile', failed(error), '≤ 0.75× a naive jose helper'])
  rows.push([`warm \`ccred get\` of an ES256 jwt profile (median, ${result.runs} runs)`, ms(result.ccred.p50), ''])
  rows.push(['naive `node -e` helper: import jose, sign ES256 per call (median)', `${ms(result.naive.p50)} (${ratio(result.naiveRatio)} a bare node start)`, ''])
  rows.push(['jwt warm get ÷ naive jose helper (medians)', ratio(result.ratio), '≤ 0.75×'])
}

function loadRows(result: ThroughputResult | undefined, error?: string): void {
  if (result === undefined) return void rows.push(['daemon throughput', failed(error), '≥ 5,000 req/s, p99 ≤ 5 ms'])
  const { ccred, baseline } = result
  rows.push([`daemon throughput, ${result.concurrency} clients, 1 connection per request`, `${int(ccred.rps)} req/s`, '≥ 5,000 req/s'])
  rows.push(['daemon latency p50 / p99 / max', `${ms(ccred.latency.p50, 2)} / ${ms(ccred.latency.p99, 2)} / ${ms(ccred.latency.max, 1)}`, 'p99 ≤ 5 ms'])
  const single = result.diagnostics.find((d) => d.label.startsWith('diag: 1 client'))
  if (single !== undefined) rows.push(['daemon latency, 1 client (unloaded) p50 / p99', `${ms(single.latency.p50, 2)} / ${ms(single.latency.p99, 2)}`, ''])
  rows.push(['bare node:http server, same load', `${int(baseline.rps)} req/s (p99 ${ms(baseline.latency.p99, 2)})`, ''])
  rows.push(['ccred ÷ bare server (req/s)', ratio(result.ratio), ''])
}

function flightRows(result: SingleFlightResult | undefined, error?: string): void {
  if (result === undefined) return void rows.push(['cold single-flight', failed(error), 'script runs exactly once'])
  for (const flightResult of [result.http, result.cli, result.cliNoReissue, result.autostart]) {
    const extra = flightResult.daemonsStarted === undefined ? '' : `, ${flightResult.daemonsStarted} daemon${flightResult.daemonsStarted === 1 ? '' : 's'}`
    const reissues = flightResult.daemonReissues ? ` (${flightResult.daemonReissues} of them a 401-style re-issue)` : ''
    rows.push([`cold 200 ms exec profile: ${flightResult.label}`, `script ran ${flightResult.scriptRuns}×${reissues}, ${ms(flightResult.wallMs, 0)} wall, ${flightResult.ok}/${flightResult.clients} ok${extra}`, '1 run'])
  }
}

function mixedRows(result: LoadBenchResult | undefined, error?: string): void {
  if (result === undefined) return void rows.push(['load: 200 clients × 50 gets, 10 profiles', failed(error), '0 errors; daemon RSS ≤ 80 MiB'])
  rows.push([`load: ${result.clients} clients × ${result.getsPerClient} gets across ${result.profiles} profiles (demo, static, exec, jwt)`,
    `${int(result.requests)} gets, ${result.errors} errors, ${int(result.rps)} req/s, p50 / p99 ${ms(result.latency.p50, 1)} / ${ms(result.latency.p99, 1)}`, '0 errors'])
  if (result.cli !== undefined) rows.push(['load: real `ccred get` processes alongside', `${result.cli.gets} gets, ${result.cli.errors} errors, p50 / p99 ${ms(result.cli.latency.p50, 0)} / ${ms(result.cli.latency.p99, 0)}`, '0 errors'])
  if (result.rssStartKb !== undefined && result.rssAfterKb !== undefined) {
    const primed = result.rssPrimedKb === undefined ? '' : `${int(result.rssPrimedKb / 1024)} MiB → `
    rows.push(['daemon RSS: after start → every profile cached → after the load (peak)', `${int(result.rssStartKb / 1024)} MiB → ${primed}${int(result.rssAfterKb / 1024)} MiB (${int((result.rssPeakKb ?? result.rssAfterKb) / 1024)} MiB)`, '≤ 80 MiB'])
  }
}

function soakRows(days: SoakDay[] | undefined, error?: string): void {
  if (days === undefined) return void rows.push(['soak: simulated 24 h of 5-minute tokens', failed(error), '0 expired, 0 blocking'])
  for (const { label, result, expected } of days) {
    rows.push([`soak, simulated 24 h of 5-minute tokens: ${label}`,
      `${int(result.gets)} gets, ${result.expired} expired, ${result.notHits.length} blocking after the first, ${int(result.fetches)} fetches (schedule: ${int(expected)})`, '0 expired, 0 blocking'])
  }
}

function budgetRows(scenarios: BudgetScenario[] | undefined, error?: string): void {
  if (scenarios === undefined) return void rows.push(['upstream budget: fetches per simulated hour', failed(error), 'about 1 per refresh period'])
  for (const s of scenarios) {
    rows.push([`upstream budget, 10-min credentials: ${s.label}`, `${int(s.gets)} gets → ${int(s.fetches)} fetches per hour`, `ideal ${int(s.ideal)}`])
  }
}

function keychainRows(result: KeychainBenchResult | undefined, error?: string): void {
  if (result === undefined) return void rows.push(['keychain bindings (gnome-keyring)', failed(error), ''])
  for (const [name, figures] of [['keytar', result.keytar], ['@napi-rs/keyring (fallback)', result.napi]] as const) {
    rows.push([`keychain via ${name}: load / set / get / delete (medians, ${result.runs} runs)`, `${ms(figures.loadMs)} / ${ms(figures.set.p50, 2)} / ${ms(figures.get.p50, 2)} / ${ms(figures.delete.p50, 2)}`, ''])
  }
  rows.push(['keychain get: fallback ÷ keytar (medians)', ratio(result.getRatio), ''])
}

warmRows(warm.value, warm.error)
jwtRows(jwt.value, jwt.error)
loadRows(load.value, load.error)
flightRows(flight.value, flight.error)
mixedRows(mixed.value, mixed.error)
soakRows(soak.value, soak.error)
budgetRows(budget.value, budget.error)
keychainRows(keychain.value, keychain.error)

const m = machineSummary()
const totalSeconds = (performance.now() - started) / 1000
log('')
log('## Benchmarks')
log('')
log(`\`npm run bench\` — ${m.cores} cores (${m.cpuModel}), node ${m.node}, ${m.os}`)
log('')
log('| Benchmark | Result | Target |')
log('| --- | --- | --- |')
for (const [what, result, target] of rows) log(`| ${what} | ${result} | ${target} |`)
log('')
log(`(benchmarks took ${totalSeconds.toFixed(1)} s: warm-get ${warm.seconds.toFixed(1)} s, jwt-get ${jwt.seconds.toFixed(1)} s, throughput ${load.seconds.toFixed(1)} s, single-flight ${flight.seconds.toFixed(1)} s, load ${mixed.seconds.toFixed(1)} s, soak ${soak.seconds.toFixed(1)} s, keychain ${keychain.seconds.toFixed(1)} s, upstream budget ${budget.seconds.toFixed(1)} s)`)
