import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Sandbox } from '../test/helpers/sandbox.js'
import { isMain, log, ms, numberOption, printMachine, ratio, summarize, type Log, type Summary } from './lib.js'
import { timeChild } from './warm-get.js'

/**
 * Does Node's module compile cache (Node ≥ 22.1) make the warm `ccred get` faster?
 * Interleaved in one run on the node that runs this script: the bin as shipped, the
 * bin with NODE_COMPILE_CACHE set (the whole bundle comes from the cache: the most
 * the cache can give), a two-line stub that calls module.enableCompileCache(dir) and
 * then requires the bin (what ccred could ship: a bundle cannot enable the cache for
 * itself, it is compiled before its first line runs), and `node -e ""`.
 * `node dist/bench/compile-cache.js --runs=N` runs it alone.
 */

export interface CompileCacheResult {
  runs: number
  plain: Summary
  env: Summary
  stub: Summary
  node: Summary
  cacheFiles: number
  failures: number
  /** Per-round differences (variant − as shipped, same round): median and a bootstrap 95 % interval of that median, ms. */
  envDelta: PairedDelta
  stubDelta: PairedDelta
}

export interface PairedDelta {
  medianMs: number
  lowMs: number
  highMs: number
}

/**
 * The median of the per-round differences, with a bootstrap 95 % interval: pairing the
 * runs of one round cancels most of the machine's load swings, which move every
 * variant of a round together. An interval that straddles 0 means "no measurable gain".
 */
export function pairedDelta(variant: readonly number[], baseline: readonly number[], resamples = 2000): PairedDelta {
  const deltas = variant.map((v, i) => v - baseline[i]!)
  const medians: number[] = []
  for (let r = 0; r < resamples; r++) {
    const sample = deltas.map(() => deltas[Math.floor(Math.random() * deltas.length)]!)
    medians.push(summarize(sample).p50)
  }
  medians.sort((a, b) => a - b)
  return { medianMs: summarize(deltas).p50, lowMs: medians[Math.floor(resamples * 0.025)]!, highMs: medians[Math.floor(resamples * 0.975)]! }
}

type Variant = 'plain' | 'env' | 'stub' | 'node'

export async function benchCompileCache(options: { runs: number; out: Log }): Promise<CompileCacheResult> {
  const { out } = options
  const sandbox = new Sandbox() // its environment is a whitelist: no NODE_COMPILE_CACHE or NODE_OPTIONS from ours
  try {
    const cacheDir = join(sandbox.root, 'compile-cache')
    mkdirSync(cacheDir, { mode: 0o700 })
    const stub = join(sandbox.root, 'stub.cjs')
    writeFileSync(stub, `try { require('node:module').enableCompileCache?.(${JSON.stringify(cacheDir)}) } catch {}\nrequire(${JSON.stringify(sandbox.cliPath)})\n`)
    const args: Record<Variant, string[]> = {
      plain: [sandbox.cliPath, 'get', 'demo'],
      env: [sandbox.cliPath, 'get', 'demo'],
      stub: [stub, 'get', 'demo'],
      node: ['-e', ''],
    }
    const envOf = (which: Variant) => (which === 'env' ? { ...sandbox.env, NODE_COMPILE_CACHE: cacheDir } : sandbox.env)
    out(`compile-cache: ${options.runs} interleaved runs each of warm \`ccred get demo\` as shipped, with NODE_COMPILE_CACHE, through a stub calling module.enableCompileCache(), and \`node -e ""\``)
    const first = await sandbox.run(['get', 'demo'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming \`ccred get demo\` failed (exit ${first.code}): ${first.stderr.trim()}`)
    const variants: Variant[] = ['plain', 'env', 'stub', 'node']
    for (let i = 0; i < 3; i++) for (const which of variants) await timeChild(args[which], envOf(which))
    const cacheFiles = readdirSync(cacheDir, { recursive: true }).length
    const times: Record<Variant, number[]> = { plain: [], env: [], stub: [], node: [] }
    let failures = 0
    for (let i = 0; i < options.runs; i++) {
      // Rotate the order so no variant always runs first (or right after the same neighbour).
      const order = variants.map((_, k) => variants[(k + i) % variants.length]!)
      for (const which of order) {
        const run = await timeChild(args[which], envOf(which))
        if (which !== 'node' && (run.code !== 0 || !run.stdout.startsWith('ccred-demo-'))) {
          failures++
          if (failures === 1) out(`  ${which} failed (exit ${run.code}): ${run.stderr.trim().slice(0, 300)}`)
        }
        times[which].push(run.ms)
      }
    }
    const result: CompileCacheResult = {
      runs: options.runs, plain: summarize(times.plain), env: summarize(times.env), stub: summarize(times.stub), node: summarize(times.node), cacheFiles, failures,
      envDelta: pairedDelta(times.env, times.plain), stubDelta: pairedDelta(times.stub, times.plain),
    }
    const line = (label: string, s: Summary) => out(`  ${label.padEnd(40)}: median ${ms(s.p50)}  p90 ${ms(s.p90)}  ÷ node ${ratio(s.p50 / result.node.p50)}`)
    line('ccred get demo (as shipped)', result.plain)
    line('ccred get demo, NODE_COMPILE_CACHE', result.env)
    line('ccred get demo, enableCompileCache stub', result.stub)
    line('node -e ""', result.node)
    out(`  cache entries written: ${cacheFiles}; failures: ${failures}`)
    out(`  NODE_COMPILE_CACHE ÷ as shipped: ${ratio(result.env.p50 / result.plain.p50)}; stub ÷ as shipped: ${ratio(result.stub.p50 / result.plain.p50)} (medians)`)
    const delta = (d: PairedDelta) => `${d.medianMs >= 0 ? '+' : ''}${ms(d.medianMs)} (95 % interval ${ms(d.lowMs)} … ${ms(d.highMs)})`
    out(`  paired per round, median of (variant − as shipped): NODE_COMPILE_CACHE ${delta(result.envDelta)}; stub ${delta(result.stubDelta)}`)
    return result
  } finally {
    await sandbox.cleanup()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchCompileCache({ runs: numberOption('runs', 100, 10, 2000), out: log })
}
