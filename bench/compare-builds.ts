/**
 * Warm `ccred get demo` of two builds, interleaved round by round in one run, each with its
 * own sandbox and daemon, against `node -e ""` on the same node: whether a change made the
 * warm path slower, on a machine whose load changes minute by minute (a figure from another
 * run would compare the load, not the builds).
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
 *   node dist/bench/compare-builds.js /tmp/before/dist/cmd/ccred.cjs dist/cmd/ccred.cjs --runs=150
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { log, ms, numberOption, printMachine, ratio, summarize } from './lib.js'

interface Build {
  cli: string
  env: Record<string, string>
  root: string
}

function sandboxFor(cli: string): Build {
  const root = mkdtempSync(join(tmpdir(), 'ccb-'))
  mkdirSync(join(root, 'run'), { mode: 0o700 })
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_STATE_HOME: join(root, 'state'),
    XDG_CACHE_HOME: join(root, 'cache'),
    CCRED_RUNTIME_DIR: join(root, 'run'),
  }
  const first = spawnSync(process.execPath, [cli, 'get', 'demo'], { env, encoding: 'utf8' })
  if (first.status !== 0) throw new Error(`${cli}: the first get failed: ${first.stderr.trim()}`)
  return { cli, env, root }
}

function timed(args: string[], env: Record<string, string>): number {
  const started = performance.now()
  const run = spawnSync(process.execPath, args, { env, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`${args.join(' ')}: exit ${run.status}: ${run.stderr.trim()}`)
  return performance.now() - started
}

const [beforeCli, afterCli] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
if (beforeCli === undefined || afterCli === undefined) {
  console.error('usage: node dist/bench/compare-builds.js <before/dist/cmd/ccred.cjs> <after/dist/cmd/ccred.cjs> [--runs=N]')
  process.exit(2)
}
const runs = numberOption('runs', 150, 10, 5000)
printMachine()
const builds = [sandboxFor(resolve(beforeCli)), sandboxFor(resolve(afterCli))] as const
const times: [number[], number[], number[]] = [[], [], []]
const differences: number[] = []
try {
  for (let round = 0; round < runs; round++) {
    const before = timed([builds[0].cli, 'get', 'demo'], builds[0].env)
    const after = timed([builds[1].cli, 'get', 'demo'], builds[1].env)
    times[0].push(before)
    times[1].push(after)
    times[2].push(timed(['-e', ''], { PATH: builds[0].env.PATH! }))
    differences.push(after - before)
  }
} finally {
  for (const build of builds) {
    spawnSync(process.execPath, [build.cli, 'daemon', 'stop'], { env: build.env })
    rmSync(build.root, { recursive: true, force: true })
  }
}
const [before, after, bare] = times.map(summarize) as [ReturnType<typeof summarize>, ReturnType<typeof summarize>, ReturnType<typeof summarize>]
log(`${runs} interleaved rounds`)
log(`  before  ${beforeCli}: median ${ms(before.p50)} (${ratio(before.p50 / bare.p50)} node -e "")`)
log(`  after   ${afterCli}: median ${ms(after.p50)} (${ratio(after.p50 / bare.p50)} node -e "")`)
log(`  node -e "": median ${ms(bare.p50)}; per-round difference after − before: median ${ms(summarize(differences).p50)}`)
