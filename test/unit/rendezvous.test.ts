import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isHolderAlive, lockContent, processStartedAtMs, readLockHolder } from '../../src/rendezvous/owned-files.js'
import { loginRuntimeDir, runtimeDir } from '../../src/config/paths.js'
import { platformFor } from '../../src/platform.js'

const noHome = () => '/nonexistent-home'
const loggedIn = () => '/run/user/1000'
const noLogind = () => undefined
const home = '/home/ann'

/** The environments agents give their helpers (measured; see docs/agents.md). */
const shell = { HOME: home, PATH: '/usr/bin:/bin', XDG_RUNTIME_DIR: '/run/user/1000', XDG_CACHE_HOME: '/home/ann/.xcache', USER: 'ann' }
const envMinusI = { HOME: home, PATH: '/usr/bin:/bin' }
const codexMcpAllowList = { HOME: home, PATH: '/usr/bin:/bin', SHELL: '/bin/bash', LANG: 'C.UTF-8', TERM: 'xterm', PWD: '/src/app' }
const claudeProjectHelper = { HOME: home, PATH: '/usr/bin:/bin', PWD: '/src/app', CLAUDECODE: '1' }

function dirFor(env: Record<string, string>, probe: () => string | undefined): string {
  const platform = platformFor('linux', env, noHome)
  return runtimeDir(env, platform, probe)
}

describe('rendezvous: one runtime directory per user, whatever the environment', () => {
  it('with logind: the shell, env -i, Codex\'s MCP allow-list and a Claude Code project helper all meet in /run/user/<uid>/ccred', () => {
    for (const env of [shell, envMinusI, codexMcpAllowList, claudeProjectHelper]) {
      assert.equal(dirFor(env, loggedIn), '/run/user/1000/ccred', JSON.stringify(env))
    }
    assert.equal(dirFor({ ...shell, XDG_RUNTIME_DIR: '/run/user/1000/' }, loggedIn), '/run/user/1000/ccred', 'a trailing slash is the same directory')
  })

  it('without logind: all of them meet under the home, not under XDG_CACHE_HOME (which a stripped environment loses)', () => {
    const { XDG_RUNTIME_DIR: _, ...shellWithoutLogind } = shell
    for (const env of [shellWithoutLogind, envMinusI, codexMcpAllowList, claudeProjectHelper]) {
      assert.equal(dirFor(env, noLogind), '/home/ann/.cache/ccred/run', JSON.stringify(env))
    }
  })

  it('explicit overrides still win: CCRED_RUNTIME_DIR, and an XDG_RUNTIME_DIR that names another directory', () => {
    assert.equal(dirFor({ ...shell, CCRED_RUNTIME_DIR: '/home/ann/.ccred-run' }, loggedIn), '/home/ann/.ccred-run')
    assert.equal(dirFor({ ...shell, XDG_RUNTIME_DIR: '/tmp/ann-run' }, loggedIn), '/tmp/ann-run/ccred')
    assert.equal(dirFor({ ...envMinusI, XDG_RUNTIME_DIR: '/tmp/ann-run' }, noLogind), '/tmp/ann-run/ccred')
  })

  it('macOS and Windows keep their places (no logind there); XDG_RUNTIME_DIR is still an override', () => {
    const mac = platformFor('darwin', envMinusI, noHome)
    assert.equal(runtimeDir(mac.env, mac), '/home/ann/Library/Caches/ccred/run')
    const win = platformFor('win32', { USERPROFILE: 'C:\\Users\\ann' }, noHome)
    assert.equal(runtimeDir(win.env, win), 'C:\\Users\\ann\\AppData\\Local\\ccred\\run')
  })

  it('loginRuntimeDir takes /run/user/<uid> only when it is there as that user\'s 0700 directory, and never on macOS or Windows', () => {
    assert.equal(loginRuntimeDir('linux', 2_000_000_123), undefined, 'no such directory')
    assert.equal(loginRuntimeDir('darwin', 0), undefined)
    assert.equal(loginRuntimeDir('win32', 0), undefined)
  })
})

describe('rendezvous: a lock names its holder by pid and start time on every OS', () => {
  it('macOS and the BSDs: a live pid with another start time (ps -o lstart) is stale; the holder itself is not; a lock without a start time is stale', { skip: process.platform === 'win32' && 'needs ps' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccr-lock-'))
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      await new Promise((resolve) => unrelated.once('spawn', resolve))
      const lock = join(dir, 'daemon.lock')
      writeFileSync(lock, lockContent('darwin'))
      const own = readLockHolder(lock)!
      assert.equal(own.pid, process.pid)
      assert.ok(own.startedAtMs !== undefined && own.startTicks === undefined)
      assert.equal(isHolderAlive(own, 'darwin'), true, 'the holder itself, its start time read back with ps')
      const startedAtMs = processStartedAtMs(unrelated.pid!, 'darwin')
      assert.ok(startedAtMs !== undefined, 'ps tells when sleep started')
      assert.equal(isHolderAlive({ pid: unrelated.pid!, startedAtMs }, 'darwin'), true)
      // The lock of a daemon that died an hour ago, whose pid sleep now has.
      writeFileSync(lock, `${unrelated.pid} @${startedAtMs - 3_600_000}\n`)
      assert.equal(isHolderAlive(readLockHolder(lock)!, 'darwin'), false, 'a reused pid does not hold the lock')
      assert.equal(isHolderAlive({ pid: unrelated.pid! }, 'darwin'), false, 'no start time: stale, as on Linux')
    } finally {
      unrelated.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('Windows: the start time comes from the process table (PowerShell there), compared within two seconds; unknown counts as alive', () => {
    const holder = { pid: process.pid, startedAtMs: 1_000_000 }
    assert.equal(isHolderAlive(holder, 'win32', () => 1_001_500), true)
    assert.equal(isHolderAlive(holder, 'win32', () => 1_000_000 + 3_600_000), false)
    assert.equal(isHolderAlive(holder, 'win32', () => undefined), true, 'cannot tell: a stuck start is better than two daemons')
    assert.equal(isHolderAlive({ pid: 2 ** 22 + 12_345, startedAtMs: 1 }, 'win32', () => 1), false, 'a dead pid is stale whatever its start time')
  })
})
