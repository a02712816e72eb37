import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { basename } from 'node:path'
import { ancestryReaderFor, type Ancestry } from '../src/callers/ancestry.js'
import { gatherMarks } from '../src/callers/registry.js'
import { isMain, log, ms, numberOption, printMachine, summarize, type Log, type Summary } from './lib.js'

/**
 * What finding the caller costs the daemon per `get`, for each way of reading process
 * ancestry (src/callers/ancestry.ts). The chain is the one Claude Code makes: this
 * process (the agent) → `sh` → the client (a `sleep` stands in). Printed:
 * - /proc (Linux): a fresh reader (nothing cached) and a warm one (the agent's entry cached);
 * - `ps`, one spawn per ancestor (how macOS was read before: two spawns for this chain);
 * - `ps -A` once per lookup (how macOS is read now), and with the table still fresh (no spawn);
 * - Windows: no process query at all; the client's marks (a digest of Claude Code's
 *   messaging socket) identify the session — the cost is on the client, shown here.
 * `ps` runs on Linux too, so every row is measured on this machine; on macOS `ps` costs more.
 */

export interface CallerLookupResult {
  procCold: Summary
  procWarm: Summary
  psPerAncestor: Summary
  psTableCold: Summary
  psTableWarm: Summary
  windowsMarks: Summary
}

async function shellChain(): Promise<{ shPid: number; clientPid: number; stop: () => void }> {
  const sh = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [chunk] = (await once(sh.stdout, 'data')) as [Buffer]
  const clientPid = Number(chunk.toString().trim())
  return { shPid: sh.pid!, clientPid, stop: () => { sh.kill('SIGKILL'); process.kill(clientPid, 'SIGKILL') } }
}

/** The old macOS reader, kept here for comparison: `ps -o ppid=,comm= -p <pid>` per ancestor. */
function psOne(pid: number): Promise<{ ppid: number; command: string } | undefined> {
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'ppid=,comm=', '-p', String(pid)], { encoding: 'utf8', timeout: 1000 }, (error, stdout) => {
      const match = error === null ? /^\s*(\d+)\s+(.*?)\s*$/.exec(stdout.split('\n')[0] ?? '') : null
      resolve(match === null ? undefined : { ppid: Number(match[1]), command: basename(match[2]!) })
    })
  })
}
async function psPerAncestor(parentPid: number): Promise<string | undefined> {
  let pid = parentPid
  for (let depth = 0; depth < 16; depth++) {
    const info = await psOne(pid)
    if (info === undefined) return undefined
    if (!['sh', 'bash', 'dash'].includes(info.command)) return info.command
    pid = info.ppid
  }
  return undefined
}

async function timed(runs: number, work: () => Promise<unknown> | unknown): Promise<Summary> {
  const times: number[] = []
  for (let i = 0; i < runs + 2; i++) {
    const started = performance.now()
    await work()
    if (i >= 2) times.push(performance.now() - started)
  }
  return summarize(times)
}

export async function benchCallerLookup(options: { runs: number; out: Log }): Promise<CallerLookupResult> {
  const { runs, out } = options
  const chain = await shellChain()
  try {
    const expectAgent = (found: Ancestry) => {
      if (found.caller?.pid !== process.pid) throw new Error(`the walk did not find this process: ${JSON.stringify(found)}`)
    }
    const warmProc = ancestryReaderFor('linux')
    const warmPs = ancestryReaderFor('darwin')
    const env = { AI_AGENT: 'claude-code_2-1-330_harness', CLAUDE_CODE_ENTRYPOINT: 'cli', CLAUDE_CODE_MESSAGING_SOCKET: '\\\\.\\pipe\\claude-messaging-1234', CLAUDE_CODE_MESSAGING_TOKEN: 'never-sent', PATH: '/usr/bin' }
    const result: CallerLookupResult = {
      procCold: await timed(runs, async () => expectAgent(await ancestryReaderFor('linux').lookup(chain.clientPid, chain.shPid))),
      procWarm: await timed(runs, async () => expectAgent(await warmProc.lookup(chain.clientPid, chain.shPid))),
      psPerAncestor: await timed(runs, () => psPerAncestor(chain.shPid)),
      psTableCold: await timed(runs, async () => expectAgent(await ancestryReaderFor('darwin').lookup(chain.clientPid, chain.shPid))),
      psTableWarm: await timed(runs, async () => expectAgent(await warmPs.lookup(chain.clientPid, chain.shPid))),
      windowsMarks: await timed(runs, () => gatherMarks(env)),
    }
    out(`caller lookup: ${runs} lookups each, chain agent → sh → client (median, p90)`)
    const row = (label: string, s: Summary) => out(`  ${label.padEnd(44)} ${ms(s.p50, 2).padStart(10)}  ${ms(s.p90, 2).padStart(10)}`)
    row('/proc, nothing cached (Linux)', result.procCold)
    row('/proc, agent cached (Linux, the usual case)', result.procWarm)
    row('ps per ancestor: 2 spawns (macOS before)', result.psPerAncestor)
    row('ps -A once: 1 spawn (macOS now)', result.psTableCold)
    row('ps -A table still fresh: 0 spawns', result.psTableWarm)
    row('Windows: client marks + digest, no query', result.windowsMarks)
    return result
  } finally {
    chain.stop()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchCallerLookup({ runs: numberOption('runs', 100, 5, 10_000), out: log })
}
