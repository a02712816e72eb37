// The Codex caller kind through the real daemon: a process named `codex` (node under that
// name, as the Rust binary is called) runs `ccred get` the way Codex runs its hooks.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Sandbox } from '../helpers/sandbox.js'

const sandboxes: Sandbox[] = []
after(async () => {
  await Promise.all(sandboxes.map((box) => box.cleanup()))
})

/** The test upstream: an exec source that counts its runs and mints a new token each time. */
const COUNTER_SCRIPT = (counterFile: string) => `#!/bin/sh
echo run >> ${counterFile}
echo "tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \\n')"
`
function upstreamFetches(counterFile: string): number {
  return existsSync(counterFile) ? readFileSync(counterFile, 'utf8').split('\n').filter(Boolean).length : 0
}

/**
 * A Codex stand-in: bash under the name `codex` (a symlink, so /proc names the process `codex`,
 * as the real Codex is a native binary of that name; node cannot stand in, since Node 24 names its
 * main thread "MainThread"), running `ccred get` `runs` times, each a child of that process as Codex
 * runs its provider `auth` command, or through `sh -c` as it runs an MCP `http_headers_helper`.
 */
function codexRuns(box: Sandbox, runs: number, how: 'exec' | 'mcp'): string[] {
  const codex = join(box.root, 'codex')
  if (!existsSync(codex)) symlinkSync('/bin/bash', codex)
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
  const get = `${quote(process.execPath)} ${quote(box.cliPath)} get tok`
  const one = how === 'exec' ? get : `/bin/sh -c ${quote(`${get} --format headers`)}`
  // `; true` after the loop: bash never execs the last command in its own place, so every run is its child.
  const result = spawnSync(codex, ['-c', `for i in $(seq ${runs}); do ${one} </dev/null; echo; done; true`], { env: box.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  assert.equal(result.status, 0, result.stderr)
  return result.stdout.split('\n').filter(Boolean)
}

describe('Codex as a caller (real daemon)', { skip: process.platform !== 'linux' && 'names the stand-in through /proc' }, () => {
  it('its provider hook run twice at once: fetch, then a re-issue (its 401 retry); a 7-run 401 storm costs 2 upstream fetches', async () => {
    const box = new Sandbox()
    sandboxes.push(box)
    const counter = box.file('count')
    // reissue_interval 1h: the bound below holds however slowly this machine runs the storm.
    box.writeConfig(`[broker]\nreissue_interval = "1h"\n\n[profiles.tok]\nsource = "exec"\ncommand = ["${box.writeScript('tok.sh', COUNTER_SCRIPT(counter))}"]\nlifetime = "10m"\n`)
    // The daemon is started first by a plain get, so the storm's runs all find it running.
    const warm = await box.run(['get', 'tok'])
    assert.equal(warm.code, 0, warm.stderr)
    assert.equal(upstreamFetches(counter), 1)

    const storm = codexRuns(box, 7, 'exec')
    assert.equal(storm.length, 7)
    assert.equal(storm[0], warm.stdout.trim(), 'the first run of this Codex process is served from the cache')
    assert.notEqual(storm[1], storm[0], 'the run right after is its 401 retry: a new value')
    assert.deepEqual(new Set(storm.slice(1)).size, 1, 'the rest of the storm gets that new value')
    assert.equal(upstreamFetches(counter), 2, 'one fetch before, one re-issue in the storm: never 7')
    const issues = box.auditLines().filter((line) => line.event === 'issue')
    assert.deepEqual(issues.map((line) => line.served), ['fetch', 'hit', 'reissue', 'hit', 'hit', 'hit', 'hit', 'hit'])
    assert.ok(issues.slice(1).every((line) => line.callerCommand === 'codex'), 'the daemon named the caller codex')
  })

  it('its MCP http_headers_helper (sh -c under codex) run twice is served from the cache: no re-issue', async () => {
    const box = new Sandbox()
    sandboxes.push(box)
    const counter = box.file('count')
    box.writeConfig(`[profiles.tok]\nsource = "exec"\ncommand = ["${box.writeScript('tok.sh', COUNTER_SCRIPT(counter))}"]\nlifetime = "10m"\n`)
    assert.equal((await box.run(['get', 'tok'])).code, 0)
    const [first, second] = codexRuns(box, 2, 'mcp')
    assert.match(first!, /^\{"Authorization":"Bearer tok-[0-9a-f]{12}"\}$/)
    assert.equal(second, first)
    assert.equal(upstreamFetches(counter), 1)
  })
})
