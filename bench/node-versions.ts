import { Sandbox } from '../test/helpers/sandbox.js'
import { isMain, log, ms, numberOption, printMachine, ratio, summarize, type Log, type Summary } from './lib.js'
import { timeChild } from './warm-get.js'

/**
 * Warm `ccred get demo` on several Node binaries in ONE interleaved run: each binary
 * has its own sandbox and its own daemon (autostarted by its CLI, so on that binary),
 * and every round runs `get` and `node -e ""` on each binary in a rotating order.
 * Sequential runs per version would compare machine loads as much as versions.
 * `node dist/bench/node-versions.js --runs=N /path/to/node ...` (default: this node).
 */

export interface NodeVersionFigures {
  nodePath: string
  version: string
  get: Summary
  node: Summary
  /** median(get) / median(node) of this binary, same rounds. */
  ratio: number
  failures: number
}

export async function benchNodeVersions(options: { nodePaths: string[]; runs: number; out: Log }): Promise<NodeVersionFigures[]> {
  const { out } = options
  const sandboxes = options.nodePaths.map(() => new Sandbox())
  try {
    const versions: string[] = []
    for (const [i, nodePath] of options.nodePaths.entries()) {
      const sandbox = sandboxes[i]!
      versions.push((await timeChild(['--version'], sandbox.env, 15_000, undefined, nodePath)).stdout.trim())
      const first = await timeChild([sandbox.cliPath, 'get', 'demo'], sandbox.env, 20_000, undefined, nodePath)
      if (first.code !== 0) throw new Error(`priming \`ccred get demo\` on ${nodePath} failed (exit ${first.code}): ${first.stderr.trim()}`)
    }
    out(`node-versions: ${options.runs} rounds, each running warm \`ccred get demo\` and \`node -e ""\` on ${versions.join(', ')} (rotating order; one daemon per version, on that version)`)
    const tasks = options.nodePaths.flatMap((nodePath, i) => [
      { i, kind: 'get' as const, nodePath, args: [sandboxes[i]!.cliPath, 'get', 'demo'] },
      { i, kind: 'node' as const, nodePath, args: ['-e', ''] },
    ])
    for (let warm = 0; warm < 3; warm++) for (const task of tasks) await timeChild(task.args, sandboxes[task.i]!.env, 15_000, undefined, task.nodePath)
    const times = options.nodePaths.map(() => ({ get: [] as number[], node: [] as number[], failures: 0 }))
    for (let round = 0; round < options.runs; round++) {
      const order = tasks.map((_, k) => tasks[(k + round) % tasks.length]!)
      if (round % 2 === 1) order.reverse()
      for (const task of order) {
        const run = await timeChild(task.args, sandboxes[task.i]!.env, 15_000, undefined, task.nodePath)
        if (task.kind === 'get' && (run.code !== 0 || !run.stdout.startsWith('ccred-demo-'))) times[task.i]!.failures++
        times[task.i]![task.kind].push(run.ms)
      }
    }
    const figures = options.nodePaths.map((nodePath, i): NodeVersionFigures => {
      const get = summarize(times[i]!.get)
      const node = summarize(times[i]!.node)
      return { nodePath, version: versions[i]!, get, node, ratio: get.p50 / node.p50, failures: times[i]!.failures }
    })
    for (const f of figures) {
      out(`  ${f.version.padEnd(9)} get median ${ms(f.get.p50)} p90 ${ms(f.get.p90)} min ${ms(f.get.min)} | node -e "" median ${ms(f.node.p50)} p90 ${ms(f.node.p90)} min ${ms(f.node.min)} | ratio ${ratio(f.ratio)} (min ÷ min ${ratio(f.get.min / f.node.min)})${f.failures > 0 ? `, ${f.failures} failed` : ''}`)
    }
    return figures
  } finally {
    for (const sandbox of sandboxes) await sandbox.cleanup()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  const paths = process.argv.slice(2).filter((arg) => !arg.startsWith('--') && !/^\d+$/.test(arg))
  await benchNodeVersions({ nodePaths: paths.length > 0 ? paths : [process.execPath], runs: numberOption('runs', 60, 5, 2000), out: log })
}
