// The exec source's process handling on real processes (sh, sleep): a timeout ends the helper's
// whole process group, SIGKILL follows a SIGTERM the helper ignores, and helper stderr is redacted
// before it is cut short. Deaths are checked by pid; the poll's bound only turns a hang into a failure.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { FakeClock } from '../../src/clock.js'
import { CcredError } from '../../src/errors.js'
import { execSource } from '../../src/sources/exec.js'
import { isProcessAlive } from '../../src/rendezvous/process-alive.js'
import { Sandbox, waitFor } from '../helpers/sandbox.js'
import { testSourceDeps } from '../helpers/source-deps.js'

const box = new Sandbox()
const started: number[] = []
after(async () => {
  // Whatever a failing test left running: by the pids the helpers wrote, never by name.
  for (const pid of started) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  }
  await box.cleanup()
})

type ExecOptions = Parameters<typeof execSource.create>[0]

function fetchShell(command: string, timeoutMs: number): Promise<unknown> {
  const options: ExecOptions = { shell: true, argv: [command], env: {}, lifetimeMs: undefined, timeoutMs }
  const clock = new FakeClock()
  return execSource.create(options, testSourceDeps()).fetch({ profile: 'p', clock, resolve: async () => 'unused' })
}

function pidsIn(path: string): number[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number)
}

describe('exec source: ending a helper', { skip: process.platform === 'win32' && 'POSIX shell lines, signals and process groups (the Windows tree kill is in test/windows/wine-scenarios.ts)' }, () => {
  it('a timeout ends the helper\'s whole process group: a grandchild `sleep` is gone too', async () => {
    const pidFile = box.file('group.pids')
    // The grandchild stays in the helper's process group (no setsid): only a signal to the group reaches it.
    const fetching = fetchShell(`sleep 1000 & echo $! > ${pidFile}; echo $$ >> ${pidFile}; wait`, 300)
    await assert.rejects(fetching, (error: CcredError) => {
      assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
      assert.match(error.message, /^exec: sh -c timed out after 300ms$/)
      return true
    })
    const [grandchild, helper] = pidsIn(pidFile)
    started.push(grandchild!, helper!)
    await waitFor(() => !isProcessAlive(helper!), `helper ${helper} to end`)
    await waitFor(() => !isProcessAlive(grandchild!), `grandchild sleep ${grandchild} to end with its group`)
  })

  it('a helper that ignores SIGTERM is killed (SIGKILL after the grace period)', async () => {
    const pidFile = box.file('stubborn.pids')
    // `trap '' TERM` ignores SIGTERM in the shell and in what it starts.
    const fetching = fetchShell(`trap '' TERM; echo $$ > ${pidFile}; while :; do sleep 1; done`, 300)
    await assert.rejects(fetching, /timed out after 300ms/)
    const [helper] = pidsIn(pidFile)
    started.push(helper!)
    await waitFor(() => !isProcessAlive(helper!), `helper ${helper}, which ignores SIGTERM, to be killed`)
  })
})

describe('exec source: helper stderr in errors', { skip: process.platform === 'win32' && 'its helpers are POSIX shell lines' }, () => {
  it('a secret straddling the 200-character cut is redacted whole, before the cut', async () => {
    const secret = 'tok-5ecret-0123456789abcdef-0123456789'
    // 194 characters of padding: the cut (199 characters and "…") would leave 5 characters of
    // the secret, too few to be recognised as part of it once cut.
    const padding = 'x'.repeat(194)
    const fetching = fetchShell(`echo ${secret}; echo "${padding}${secret}" >&2; exit 1`, 10_000)
    await assert.rejects(fetching, (error: CcredError) => {
      assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
      assert.equal(error.message, `exec: sh -c exited with status 1: ${padding}[reda…`)
      return true
    })
  })
})
