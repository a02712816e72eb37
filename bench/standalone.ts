/**
 * The standalone executable against the npm build, in one interleaved run (every round runs
 * each contender once, in turn, so a load change hits all of them alike):
 * - warm `ccred get demo` (daemon running): the executable; the npm build on each node given;
 *   `curl --unix-socket` to the executable's daemon; bare `node -e ""` on each node;
 * - cold `ccred get demo` (no daemon: the first get autostarts it and waits for its answer),
 *   for the executable and the npm build on each node;
 * - sizes and each daemon's RSS after the run.
 *
 *   npm run build && npm run build:exe
 *   node dist/bench/standalone.js --runs=40 [--node=/path/to/node22 --node=/path/to/node24]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { log, ms, numberOption, printMachine, ratio, summarize } from './lib.js'

const root = resolve(import.meta.dirname ?? '.', '..', '..')
const exe = join(root, 'dist', 'exe', `ccred-${process.platform}-${process.arch}`)
const bin = join(root, 'dist', 'cmd', 'ccred.cjs')
const nodes = [process.execPath, ...process.argv.filter((a) => a.startsWith('--node=')).map((a) => a.slice('--node='.length))]
const runs = numberOption('runs', 30, 1, 10_000)

interface World { env: Record<string, string>; root: string; socket: string }

function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'ccb-'))
  mkdirSync(join(dir, 'run'), { mode: 0o700 })
  return {
    root: dir,
    socket: join(dir, 'run', 'ccred.sock'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state'), XDG_DATA_HOME: join(dir, 'data'), CCRED_RUNTIME_DIR: join(dir, 'run') },
  }
}

function timed(file: string, args: string[], env: Record<string, string>): number {
  const started = performance.now()
  const run = spawnSync(file, args, { env, encoding: 'utf8' })
  const took = performance.now() - started
  if (run.status !== 0) throw new Error(`${file} ${args.join(' ')}: status ${run.status}: ${run.stderr.trim()}`)
  return took
}

interface Contender { name: string; warm: () => number; cold?: () => number; world?: World; command: [string, string[]] }

const version = (node: string) => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
const contenders: Contender[] = []
const stop = (w: World, command: [string, string[]]) => spawnSync(command[0], [...command[1], 'daemon', 'stop'], { env: w.env })
function build(name: string, command: [string, string[]]): Contender {
  const w = world()
  const get = (): number => timed(command[0], [...command[1], 'get', 'demo'], w.env)
  get()
  return { name, world: w, command, warm: get, cold: () => { stop(w, command); return get() } }
}
if (existsSync(exe)) contenders.push(build('executable', [exe, []]))
for (const node of nodes) contenders.push(build(`npm build, node ${version(node)}`, [node, [bin]]))
const exeWorld = contenders[0]?.name === 'executable' ? contenders[0].world : undefined
if (exeWorld !== undefined) {
  const curl = ['-s', '--unix-socket', exeWorld.socket, '-X', 'POST', '-H', 'content-type: application/json', '--data', '{"profile":"demo"}', 'http://ccred/v1/credential']
  contenders.push({ name: 'curl --unix-socket (executable\'s daemon)', command: ['curl', curl], warm: () => timed('curl', curl, exeWorld.env) })
}
for (const node of nodes) contenders.push({ name: `bare node ${version(node)} -e ""`, command: [node, []], warm: () => timed(node, ['-e', ''], {}) })

const warm = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
const cold = new Map<string, number[]>(contenders.filter((c) => c.cold).map((c) => [c.name, []]))
for (let round = 0; round < runs; round++) {
  for (const c of contenders) warm.get(c.name)!.push(c.warm())
  for (const c of contenders) if (c.cold) cold.get(c.name)!.push(c.cold())
}

printMachine()
log(`${runs} interleaved rounds; p50 (p90)`)
const p50 = (values: number[]) => summarize(values).p50
const bareFirst = p50(warm.get(`bare node ${version(nodes[0]!)} -e ""`)!)
const bareByVersion = new Map(nodes.map((n) => [version(n), p50(warm.get(`bare node ${version(n)} -e ""`)!)]))
const fastestBare = Math.min(...bareByVersion.values())
log('warm get:')
for (const [name, values] of warm) log(`  ${name.padEnd(44)} ${ms(p50(values))} (${ms(summarize(values).p90)})  ${ratio(p50(values) / fastestBare)} fastest bare node`)
log('cold get (no daemon; includes its start):')
for (const [name, values] of cold) log(`  ${name.padEnd(44)} ${ms(p50(values))} (${ms(summarize(values).p90)})  ${ratio(p50(values) / fastestBare)} fastest bare node`)
void bareFirst
log('sizes:')
if (existsSync(exe)) log(`  ${exe.slice(root.length + 1)}: ${(statSync(exe).size / 2 ** 20).toFixed(1)} MiB`)
const du = spawnSync('du', ['-sk', join(root, 'dist', 'cmd'), join(root, 'dist', 'src')], { encoding: 'utf8' }).stdout.trim().split('\n').reduce((sum, line) => sum + Number(line.split(/\s+/)[0]), 0)
log(`  npm build (dist/cmd + dist/src, without node_modules): ${(du / 1024).toFixed(1)} MiB`)
log('daemon RSS after the run:')
for (const c of contenders) {
  if (c.world === undefined) continue
  const pid = Number(readFileSync(join(c.world.root, 'run', 'daemon.pid'), 'utf8').trim().split('\n')[0])
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  log(`  ${c.name.padEnd(44)} ${rss === undefined ? 'n/a' : `${(Number(rss) / 1024).toFixed(1)} MiB`}`)
}
for (const c of contenders) {
  if (c.world === undefined) continue
  stop(c.world, c.command)
  rmSync(c.world.root, { recursive: true, force: true })
}
