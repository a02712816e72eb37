// Process ancestry per platform behind one interface: Linux's /proc for real, macOS's
// `ps -A` table both for real (ps runs on Linux too) and from a recorded output, Windows none.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { ancestryReaderFor, parseProcStat, parsePsTable } from '../../src/callers/ancestry.js'

/** Starts `sh -c 'sleep 30 & echo $!; wait'`: a sleep whose parent is a shell whose parent is this test. */
async function shellChain(): Promise<{ shPid: number; sleepPid: number; stop: () => void }> {
  const sh = spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [chunk] = (await once(sh.stdout, 'data')) as [Buffer]
  return { shPid: sh.pid!, sleepPid: Number(chunk.toString().trim()), stop: () => { sh.kill('SIGKILL'); process.kill(Number(chunk.toString().trim()), 'SIGKILL') } }
}

/** Recorded on macOS 15 (`ps -A -o pid=,ppid=,comm=`), trimmed: Claude Code's app binary runs the helper through sh. */
const MACOS_PS = `    1     0 /sbin/launchd
  612     1 /Applications/Claude Code.app/Contents/MacOS/claude
 4711   612 /bin/sh
 4712  4711 /opt/homebrew/Cellar/node/24.1.0/bin/node
 5000     1 /Applications/Utilities/Terminal.app/Contents/MacOS/Terminal
 5001  5000 -zsh
 5002  5001 /usr/local/bin/codex
 5003  5002 /opt/homebrew/bin/node
`

describe('ancestry: Linux /proc', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  it('walks from a real client past its sh to the program that ran it', async () => {
    const chain = await shellChain()
    try {
      const found = await ancestryReaderFor('linux').lookup(chain.sleepPid)
      assert.equal(found.parent?.pid, chain.shPid)
      assert.equal(found.parent?.command, 'sh')
      assert.equal(found.caller?.pid, process.pid, 'the nearest non-shell ancestor: this test')
    } finally {
      chain.stop()
    }
  })

  it('a stat line whose program name holds spaces and parentheses', () => {
    assert.deepEqual(parseProcStat(42, '42 (my (odd) prog) S 17 42 42 0 -1'), { pid: 42, ppid: 17, command: 'my (odd) prog' })
    assert.equal(parseProcStat(42, 'garbage'), undefined)
  })
})

describe('ancestry: macOS and the BSDs, one `ps -A` per lookup at most', () => {
  it('the real ps gives the same walk as /proc (ps runs on Linux too)', { skip: process.platform !== 'linux' && 'compares with /proc' }, async () => {
    const chain = await shellChain()
    try {
      const viaPs = await ancestryReaderFor('darwin').lookup(chain.sleepPid, chain.shPid)
      const viaProc = await ancestryReaderFor('linux').lookup(chain.sleepPid, chain.shPid)
      assert.deepEqual(viaPs, viaProc)
      assert.equal(viaPs.caller?.pid, process.pid)
    } finally {
      chain.stop()
    }
  })

  it('a recorded macOS table: paths and spaces reduced to the program name, the walk stops at Claude Code', async () => {
    const table = parsePsTable(MACOS_PS)
    assert.deepEqual(table.get(612), { pid: 612, ppid: 1, command: 'claude' })
    assert.equal(table.get(5001)?.command, '-zsh')
    const reader = ancestryReaderFor('darwin', { runPs: async () => MACOS_PS })
    assert.deepEqual(await reader.lookup(4712, 4711), { parent: { pid: 4711, ppid: 612, command: 'sh' }, caller: { pid: 612, ppid: 1, command: 'claude' } })
    const codex = await reader.lookup(5003, 5002)
    assert.equal(codex.caller?.command, 'codex', 'exec\'d by codex directly: the parent is the caller')
  })

  it('one spawn per lookup at most: a burst shares one table; a parent missing from it reads it again', async () => {
    let spawns = 0
    let nowMs = 1_000_000
    const reader = ancestryReaderFor('darwin', { nowMs: () => nowMs, runPs: async () => { spawns++; return MACOS_PS } })
    await Promise.all([reader.lookup(4712, 4711), reader.lookup(4712, 4711), reader.lookup(5003, 5002)])
    assert.equal(spawns, 1, 'concurrent lookups share one ps')
    await reader.lookup(4712, 4711)
    assert.equal(spawns, 1, 'the parent is in the fresh table')
    await reader.lookup(9999, 9998)
    assert.equal(spawns, 2, 'a new shell: one more ps')
    nowMs += 2_000
    await reader.lookup(4712, 4711)
    assert.equal(spawns, 3, 'an old table is read again')
  })

  it('a ps slower than its timeout is said in `problem` (status) and told once, never silently', async () => {
    const told: string[] = []
    const timedOut = Object.assign(new Error('ps timed out'), { killed: true })
    let fail = true
    const reader = ancestryReaderFor('darwin', { runPs: async () => { if (fail) throw timedOut; return MACOS_PS }, onProblem: (problem) => told.push(problem) })
    assert.deepEqual(await reader.lookup(4712, 4711), {})
    await reader.lookup(4712, 4711)
    assert.match(reader.problem ?? '', /ps did not answer within 1000 ms: a helper re-run after a 401 is not recognised/)
    assert.equal(told.length, 1, 'logged once')
    fail = false
    assert.equal((await reader.lookup(4712, 4711)).caller?.command, 'claude')
    assert.equal(reader.problem, undefined, 'cleared once ps answers again')
  })
})

describe('ancestry: Windows', () => {
  it('no reader (no cheap query exists): nothing is spawned, the caller kinds use the environment and the parent pid', async () => {
    const reader = ancestryReaderFor('win32')
    assert.equal(reader.method, 'none')
    assert.deepEqual(await reader.lookup(process.pid, process.ppid), {})
  })
})
