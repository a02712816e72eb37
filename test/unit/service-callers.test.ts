// The service with another platform's ancestry reader: the 401 re-issue on Windows (no
// process query) and a macOS `ps` that times out, each through the real service and broker.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ancestryReaderFor, type AncestryReader } from '../../src/callers/ancestry.js'
import { gatherMarks } from '../../src/callers/registry.js'
import { FakeClock } from '../../src/clock.js'
import type { CredentialRequest } from '../../src/protocol.js'
import { CredentialService } from '../../src/service/service.js'
import { MemoryStore } from '../../src/store/memory.js'

const dirs: string[] = []
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

function service(ancestry: AncestryReader, clock: FakeClock): CredentialService {
  const dir = mkdtempSync(join(tmpdir(), 'ccred-callers-'))
  dirs.push(dir)
  const configPath = join(dir, 'config.toml')
  writeFileSync(configPath, '[profiles.demo]\nsource = "demo"\nlifetime = "1h"\n')
  return new CredentialService({ env: { HOME: dir }, clock, configPath, explicitConfig: true, store: new MemoryStore(), ancestry })
}

/** A helper run as the client sends it: marks from the environment, a new client pid and parent each time. */
function helperRun(env: Record<string, string>, parentPid: number, clock: FakeClock): CredentialRequest {
  return { profile: 'demo', clientPid: parentPid + 1, clientParentPid: parentPid, clientStartedAtMs: clock.now(), interactive: false, callerMarks: gatherMarks(env) }
}

describe('service: callers on other platforms', () => {
  it('Windows: three immediate Claude Code helper re-runs (each under a new cmd.exe) give fetch, reissue, hit — not fetch, hit, hit', async () => {
    const clock = new FakeClock()
    const svc = service(ancestryReaderFor('win32'), clock)
    try {
      const env = { AI_AGENT: 'claude-code_2-1-337_harness', CLAUDE_CODE_ENTRYPOINT: 'cli', CLAUDE_CODE_MESSAGING_SOCKET: '\\\\.\\pipe\\claude-code-7f3a', CLAUDE_CODE_MESSAGING_TOKEN: 'secret' }
      const served: string[] = []
      for (const cmdPid of [4100, 4200, 4300]) {
        clock.advance(1000)
        served.push((await svc.get(helperRun(env, cmdPid, clock))).served)
      }
      assert.deepEqual(served, ['fetch', 'reissue', 'hit'])
    } finally {
      await svc.close()
    }
  })

  it('macOS: a ps slower than its timeout is said in status; the get is still served', async () => {
    const clock = new FakeClock()
    const timedOut = Object.assign(new Error('timed out'), { killed: true })
    const svc = service(ancestryReaderFor('darwin', { runPs: () => Promise.reject(timedOut) }), clock)
    try {
      assert.equal((await svc.status()).callers, undefined, 'nothing to say before a lookup failed')
      assert.equal((await svc.get(helperRun({}, 500, clock))).served, 'fetch')
      const status = await svc.status()
      assert.equal(status.callers?.ancestry, 'ps')
      assert.match(status.callers?.problem ?? '', /ps did not answer within 1000 ms/)
    } finally {
      await svc.close()
    }
  })

  it('macOS: a marked Claude Code helper run costs no ps at all; a run without the marks costs one', async () => {
    const clock = new FakeClock()
    let spawns = 0
    const svc = service(ancestryReaderFor('darwin', { runPs: async () => { spawns++; return '  500     1 /Applications/Claude.app/Contents/MacOS/claude\n  501   500 /bin/sh\n' } }), clock)
    try {
      const env = { AI_AGENT: 'claude-code_2-1-337_harness', CLAUDE_CODE_MESSAGING_SOCKET: '/tmp/claude-501/messaging.sock' }
      const served: string[] = []
      for (let i = 0; i < 3; i++) {
        clock.advance(1000)
        served.push((await svc.get(helperRun(env, 501, clock))).served)
      }
      assert.deepEqual(served, ['fetch', 'reissue', 'hit'], 'the session digest is the holder')
      assert.equal(spawns, 0)
      await svc.get(helperRun({ AI_AGENT: 'claude-code_2-1-337_agent', CLAUDECODE: '1', CLAUDE_CODE_MESSAGING_SOCKET: '/tmp/claude-501/messaging.sock' }, 501, clock))
      assert.equal(spawns, 1, "a command of Claude Code's agent: the marks do not name a hook run, ancestry is read")
    } finally {
      await svc.close()
    }
  })
})
