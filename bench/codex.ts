import { spawnSync } from 'node:child_process'
import { symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Sandbox } from '../test/helpers/sandbox.js'
import { isMain, log, ms, numberOption, printMachine, summarize, type Log, type Summary } from './lib.js'

/**
 * The warm `ccred get` as Codex runs its provider `auth` command: exec'd directly (no shell),
 * stdin /dev/null, from a process named `codex` (so the daemon's caller lookup sees Codex),
 * interleaved with the same get through `sh -c` (as Claude Code runs a helper) and with a
 * bare `node -e ""`, all timed from inside that `codex` process.
 */

export interface CodexBenchResult {
  direct: Summary
  viaShell: Summary
  node: Summary
  /** Upstream fetches for the profile over every run (the first one, then cache hits). */
  fetches: number
}

/** Runs inside the process named codex: times each way `runs` times, round by round, and prints the samples as JSON. */
const RUNNER = `
const { spawnSync } = require('node:child_process')
const [cli, runs] = [process.argv[2], Number(process.argv[3])]
const time = (file, args) => { const t = process.hrtime.bigint(); const r = spawnSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }); if (r.status !== 0) throw new Error(String(r.stderr)); return Number(process.hrtime.bigint() - t) / 1e6 }
const out = { direct: [], viaShell: [], node: [] }
for (let i = 0; i < runs; i++) {
  out.direct.push(time(process.execPath, [cli, 'get', 'gw']))
  out.viaShell.push(time('/bin/sh', ['-c', "'" + process.execPath + "' '" + cli + "' get gw"]))
  out.node.push(time(process.execPath, ['-e', '']))
}
process.stdout.write(JSON.stringify(out))
`

export async function benchCodex(options: { runs: number; out: Log }): Promise<CodexBenchResult> {
  const sandbox = new Sandbox()
  try {
    sandbox.writeConfig('[profiles.gw]\nsource = "demo"\nlifetime = "1h"\n')
    const first = await sandbox.run(['get', 'gw'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming ccred get gw failed (exit ${first.code}): ${first.stderr.trim()}`)
    // node under the name codex: the daemon reads the caller's name from /proc, as it would for the real Codex.
    const codex = join(sandbox.root, 'codex')
    symlinkSync(process.execPath, codex)
    const runner = join(sandbox.root, 'runner.cjs')
    writeFileSync(runner, RUNNER)
    options.out(`codex: ${options.runs} interleaved rounds of \`ccred get\` exec'd by a process named codex, the same through sh -c, and \`node -e ""\` (daemon warm)`)
    const result = spawnSync(codex, [runner, sandbox.cliPath, String(options.runs)], { env: sandbox.env, encoding: 'utf8', timeout: 600_000 })
    if (result.status !== 0) throw new Error(`the codex-named runner failed: ${result.stderr}`)
    const samples = JSON.parse(result.stdout) as { direct: number[]; viaShell: number[]; node: number[] }
    const status = JSON.parse((await sandbox.run(['status', '--json'])).stdout) as { profiles: { profile: string; fetches: number }[] }
    return {
      direct: summarize(samples.direct),
      viaShell: summarize(samples.viaShell),
      node: summarize(samples.node),
      fetches: status.profiles.find((p) => p.profile === 'gw')?.fetches ?? -1,
    }
  } finally {
    await sandbox.cleanup()
  }
}

export function printCodex(result: CodexBenchResult, out: Log): void {
  const row = (name: string, s: Summary) => out(`  ${name.padEnd(34)} p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  (${(s.p50 / result.node.p50).toFixed(2)}× node -e "")`)
  row('ccred get, exec\'d as Codex does', result.direct)
  row('ccred get, through sh -c', result.viaShell)
  row('node -e ""', result.node)
  out(`  upstream fetches over all runs: ${result.fetches}`)
}

if (isMain(import.meta.url)) {
  printMachine(log)
  const result = await benchCodex({ runs: numberOption('runs', 40, 5, 1000), out: log })
  printCodex(result, log)
}
