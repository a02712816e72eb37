import { spawn } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Sandbox } from '../test/helpers/sandbox.js'
import { int, isMain, log, ms, numberOption, printMachine, rawRequest, ratio, summarize, type Log, type Summary } from './lib.js'

/**
 * Warm `ccred get demo` (daemon running, value cached) against `node -e ""`,
 * interleaved in the same run, so the figure is "what ccred adds to starting node".
 * Everything runs on the node that runs the benchmark (process.execPath): the CLI, the
 * `node -e ""` baseline, and the daemon the CLI autostarts. So `<node> dist/bench/warm-get.js`
 * measures that Node version alone.
 */

export interface WarmGetOptions {
  runs: number
  /** Stops the timed loop early (with fewer runs) if it would take longer than this. */
  budgetMs: number
  rssRuns: number
  out: Log
}

export interface WarmGetResult {
  runs: number
  ccred: Summary
  node: Summary
  /** The same request from a minimal CommonJS socket client: what any node client costs. */
  floor: Summary
  /** median(ccred) / median(node) */
  ratio: number
  /** median(floor) / median(node) */
  floorRatio: number
  /** median peak RSS of each child, KiB; undefined when it could not be read. */
  rssKb?: { ccred: number; node: number }
  served?: { hits: number; fetches: number; reissues: number }
  failures: number
}

export interface Timed {
  ms: number
  code: number | null
  stdout: string
  stderr: string
}

/** Spawns node (this one unless `nodePath` says which) with `args` (stdin ignored, like Claude Code's helper but closed) and times spawn → close. */
export function timeChild(args: string[], env: Record<string, string>, timeoutMs = 15_000, cwd?: string, nodePath = process.execPath): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(nodePath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd === undefined ? {} : { cwd }) })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ ms: performance.now() - started, code, stdout, stderr })
    })
  })
}

export async function benchWarmGet(options: WarmGetOptions): Promise<WarmGetResult> {
  const { out } = options
  const sandbox = new Sandbox()
  try {
    const ccredArgs = [sandbox.cliPath, 'get', 'demo']
    const nodeArgs = ['-e', '']
    // The floor for any socket client in node: load net, send the same request, print the value.
    const floorScript = join(sandbox.root, 'floor.cjs')
    writeFileSync(floorScript, [
      `const c = require('node:net').connect(${JSON.stringify(join(sandbox.runtimeDir, 'ccred.sock'))})`,
      `const body = JSON.stringify({ profile: 'demo', callerTtlMs: 300000 })`,
      `let out = ''`,
      `c.on('connect', () => c.write('POST /v1/credential HTTP/1.1\\r\\nHost: ccred\\r\\nConnection: close\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n' + body))`,
      `c.on('data', (d) => { out += d })`,
      `c.on('end', () => require('node:fs').writeSync(1, JSON.parse(out.slice(out.indexOf('\\r\\n\\r\\n') + 4)).value + '\\n'))`,
    ].join('\n'))
    const floorArgs = [floorScript]
    out(`warm-get: ${options.runs} interleaved runs each of \`node dist/cmd/ccred.cjs get demo\` (the bin), \`node -e ""\` and a minimal socket client (stdin ignored, daemon warm)`)

    // Autostart the daemon and cache the demo value; then a few untimed runs of each warm the page cache.
    const first = await sandbox.run(['get', 'demo'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming \`ccred get demo\` failed (exit ${first.code}): ${first.stderr.trim()}`)
    for (let i = 0; i < 3; i++) {
      await timeChild(ccredArgs, sandbox.env)
      await timeChild(nodeArgs, sandbox.env)
      await timeChild(floorArgs, sandbox.env)
    }

    const ccredMs: number[] = []
    const nodeMs: number[] = []
    const floorMs: number[] = []
    let failures = 0
    const deadline = performance.now() + options.budgetMs
    for (let i = 0; i < options.runs && performance.now() < deadline; i++) {
      // Alternate which goes first so neither always runs on a just-warmed CPU.
      const order = i % 2 === 0 ? ['ccred', 'node', 'floor'] : ['floor', 'node', 'ccred']
      for (const which of order) {
        if (which === 'ccred') {
          const run = await timeChild(ccredArgs, sandbox.env)
          if (run.code !== 0 || !run.stdout.startsWith('ccred-demo-')) {
            failures++
            if (failures === 1) out(`  ccred get failed (exit ${run.code}): ${run.stderr.trim().slice(0, 300)}`)
          }
          ccredMs.push(run.ms)
        } else if (which === 'node') {
          nodeMs.push((await timeChild(nodeArgs, sandbox.env)).ms)
        } else {
          floorMs.push((await timeChild(floorArgs, sandbox.env)).ms)
        }
      }
    }
    const ccred = summarize(ccredMs)
    const node = summarize(nodeMs)
    const floor = summarize(floorMs)
    const result: WarmGetResult = { runs: Math.min(ccred.count, node.count), ccred, node, floor, ratio: ccred.p50 / node.p50, floorRatio: floor.p50 / node.p50, failures }
    if (result.runs < options.runs) out(`  (time budget of ${options.budgetMs / 1000}s reached after ${result.runs} runs)`)

    // Peak RSS: separate runs with a preloaded module that reports process.resourceUsage().maxRSS at exit
    // (the preload itself adds a little to both, equally).
    if (options.rssRuns > 0) {
      const preload = join(sandbox.root, 'rss-preload.mjs')
      const rssFile = join(sandbox.root, 'rss.txt')
      writeFileSync(preload, `import { writeFileSync } from 'node:fs'\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)))\n`)
      const importArgs = ['--import', pathToFileURL(preload).href]
      const peak = async (args: string[]): Promise<number | undefined> => {
        const values: number[] = []
        for (let i = 0; i < options.rssRuns; i++) {
          rmSync(rssFile, { force: true })
          await timeChild([...importArgs, ...args], sandbox.env)
          try { values.push(Number(readFileSync(rssFile, 'utf8'))) } catch { /* not written */ }
        }
        return values.length === 0 ? undefined : summarize(values).p50
      }
      const ccredKb = await peak(ccredArgs)
      const nodeKb = await peak(nodeArgs)
      if (ccredKb !== undefined && nodeKb !== undefined) result.rssKb = { ccred: ccredKb, node: nodeKb }
    }

    try {
      const status = await rawRequest(join(sandbox.runtimeDir, 'ccred.sock'), 'GET', '/v1/status')
      const demo = (JSON.parse(status.body) as { profiles?: { profile: string; hits: number; fetches: number; reissues: number }[] }).profiles?.find((p) => p.profile === 'demo')
      if (demo !== undefined) result.served = { hits: demo.hits, fetches: demo.fetches, reissues: demo.reissues }
    } catch { /* status is informative only */ }

    out(`  ccred get demo : median ${ms(ccred.p50)}  p90 ${ms(ccred.p90)}  min ${ms(ccred.min)}  max ${ms(ccred.max)}  (${ccred.count} runs${failures > 0 ? `, ${failures} failed` : ''})`)
    out(`  node -e ""     : median ${ms(node.p50)}  p90 ${ms(node.p90)}  min ${ms(node.min)}  max ${ms(node.max)}  (${node.count} runs)`)
    out(`  floor client   : median ${ms(floor.p50)}  p90 ${ms(floor.p90)}  (a 6-line CommonJS script: load net, same request, print)`)
    out(`  ratio of medians: ${ratio(result.ratio)} (target ≤ 1.30×); ccred adds ${ms(ccred.p50 - node.p50)} to a bare node start`)
    out(`  floor ÷ node: ${ratio(result.floorRatio)}; ccred ÷ floor: ${ratio(ccred.p50 / floor.p50)}`)
    if (result.rssKb !== undefined) {
      out(`  peak RSS (median of ${options.rssRuns}): ccred get ${int(result.rssKb.ccred / 1024)} MiB, node -e "" ${int(result.rssKb.node / 1024)} MiB`)
    }
    if (result.served !== undefined) {
      out(`  daemon counters for demo: ${result.served.hits} hits, ${result.served.fetches} fetches, ${result.served.reissues} 401-style re-issues (same caller pid asking again within TTL/2)`)
    }
    return result
  } finally {
    await sandbox.cleanup()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchWarmGet({
    runs: numberOption('runs', 30, 20, 1000),
    budgetMs: numberOption('warm-budget-ms', 60_000, 1_000, 600_000),
    rssRuns: numberOption('rss-runs', 5, 0, 100),
    out: log,
  })
}
