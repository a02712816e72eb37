import { join } from 'node:path'
import { Sandbox } from '../test/helpers/sandbox.js'
import { isMain, log, ms, numberOption, printMachine, rawRequest, summarize, type Log, type Summary } from './lib.js'
import { timeChild } from './warm-get.js'

/**
 * Claude Code's header hooks: the warm time of `ccred get <profile> --format headers` as an
 * MCP headersHelper runs it (next to a plain `get` and `node -e ""`), and how many upstream
 * fetches N MCP connections (N Claude Code processes, each running the helper once) cause.
 */

export interface HooksBenchOptions {
  runs: number
  connections: number
  out: Log
}

export interface HooksBenchResult {
  headers: Summary
  value: Summary
  node: Summary
  connections: number
  /** Upstream fetches the daemon made for the profile in all: the first run, the timed runs and the N connections. */
  fetches: number
  distinctValues: number
}

/** What Claude Code 2.1.330 puts in an MCP headersHelper's environment (values of its own left out). */
const MCP_HELPER_MARKS = { AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'sdk-cli', CLAUDE_CODE_MCP_SERVER_NAME: 'corp', CLAUDE_CODE_MCP_SERVER_URL: 'https://mcp.example.com/mcp' }

export async function benchHooks(options: HooksBenchOptions): Promise<HooksBenchResult> {
  const { out } = options
  const sandbox = new Sandbox()
  try {
    sandbox.writeConfig(`
[profiles.mcp]
source = "demo"
lifetime = "1h"
headers = { Authorization = "Bearer \${token}", "X-Api-Key" = "\${token}" }
`)
    const env = { ...sandbox.env, ...MCP_HELPER_MARKS }
    const headersArgs = [sandbox.cliPath, 'get', 'mcp', '--format', 'headers']
    const valueArgs = [sandbox.cliPath, 'get', 'mcp']
    const nodeArgs = ['-e', '']
    const first = await sandbox.run(['get', 'mcp', '--format', 'headers'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming \`ccred get mcp --format headers\` failed (exit ${first.code}): ${first.stderr.trim()}`)
    out(`hooks: ${options.runs} interleaved runs each of \`ccred get mcp --format headers\` (as an MCP headersHelper), \`ccred get mcp\` and \`node -e ""\` (daemon warm)`)
    const headersMs: number[] = []
    const valueMs: number[] = []
    const nodeMs: number[] = []
    for (let i = 0; i < options.runs + 3; i++) {
      // The same process asking again is a 401 re-run for an MCP server: each timed run uses its
      // own (random) server name, as N connections of different servers would.
      const runEnv = { ...env, CLAUDE_CODE_MCP_SERVER_NAME: `bench-${i}` }
      const headers = await timeChild(headersArgs, runEnv)
      if (headers.code !== 0 || !headers.stdout.startsWith('{"Authorization":"Bearer ')) throw new Error(`get --format headers failed (exit ${headers.code}): ${headers.stderr.trim().slice(0, 300)}`)
      const value = await timeChild(valueArgs, sandbox.env)
      const node = await timeChild(nodeArgs, sandbox.env)
      if (i < 3) continue // page cache warm-up
      headersMs.push(headers.ms)
      valueMs.push(value.ms)
      nodeMs.push(node.ms)
    }

    // N connections: N separate callers (each its own parent process, like N Claude Code
    // processes), half one after the other and half at once.
    const values = new Set<string>()
    const sequential = Math.ceil(options.connections / 2)
    for (let i = 0; i < sequential; i++) {
      const run = await sandbox.run(['get', 'mcp', '--format', 'headers'], { env: MCP_HELPER_MARKS, distinctCaller: true })
      values.add(run.stdout)
    }
    const concurrent = await Promise.all(Array.from({ length: options.connections - sequential }, () => sandbox.run(['get', 'mcp', '--format', 'headers'], { env: MCP_HELPER_MARKS, distinctCaller: true })))
    for (const run of concurrent) values.add(run.stdout)
    const fetches = await fetchesOf(sandbox, 'mcp')

    const result: HooksBenchResult = { headers: summarize(headersMs), value: summarize(valueMs), node: summarize(nodeMs), connections: options.connections, fetches, distinctValues: values.size }
    out(`  get --format headers : median ${ms(result.headers.p50)}  p90 ${ms(result.headers.p90)}  (${result.headers.count} runs)`)
    out(`  get (bare value)     : median ${ms(result.value.p50)}  p90 ${ms(result.value.p90)}`)
    out(`  node -e ""           : median ${ms(result.node.p50)}  p90 ${ms(result.node.p90)}`)
    out(`  ${options.connections} MCP connections (${sequential} one after the other, ${options.connections - sequential} at once, each a distinct caller): ${fetches} upstream fetch(es) in all for the profile (with the ${result.headers.count + 3} timed runs before them), ${values.size} distinct header set(s)`)
    return result
  } finally {
    await sandbox.cleanup()
  }
}

async function fetchesOf(sandbox: Sandbox, profile: string): Promise<number> {
  const status = await rawRequest(join(sandbox.runtimeDir, 'ccred.sock'), 'GET', '/v1/status')
  return (JSON.parse(status.body) as { profiles: { profile: string; fetches: number }[] }).profiles.find((p) => p.profile === profile)?.fetches ?? 0
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchHooks({ runs: numberOption('runs', 30, 5, 1000), connections: numberOption('connections', 20, 2, 500), out: log })
}
