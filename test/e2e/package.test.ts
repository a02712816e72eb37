// The package as a user installs it: `npm pack` makes a tarball, `npm install -g` puts it in a
// prefix, and `ccred` is then found on PATH — by a shell, and by Claude Code running
// `"apiKeyHelper": "ccred get demo"` as the README writes `ccred` (bare, found on PATH).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { test } from 'node:test'
import { repoRoot, runClaude } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun } from '../helpers/claude-world.js'
import { startGateway } from '../helpers/gateway.js'
import { Sandbox } from '../helpers/sandbox.js'

const INSTALL_TIMEOUT_MS = 240_000
const DEMO_VALUE = /^ccred-demo-[0-9a-f]{32}$/

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const run = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS })
  assert.equal(run.status, 0, `npm ${args.join(' ')} failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`)
  return run.stdout
}

test('npm pack + npm install -g: ccred on PATH runs --version, get demo, and serves Claude Code as "ccred get demo"', { timeout: INSTALL_TIMEOUT_MS * 2 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ccred-pack-'))
  const sandbox = new Sandbox()
  const gateway = await startGateway()
  try {
    const root = repoRoot()
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
    // npm test built dist/ already; --ignore-scripts keeps prepack from rebuilding dist/ under
    // the feet of the test files running beside this one. What is packed is that build.
    npm(['pack', '--ignore-scripts', '--silent', '--pack-destination', work], root)
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))
    assert.equal(tarball, `ccred-${version}.tgz`)

    const prefix = join(work, 'prefix')
    // --prefer-offline: dependencies come from npm's cache when `npm ci` already put them there.
    npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball!)], work)
    const bin = join(prefix, 'bin')
    assert.ok(readdirSync(bin).includes('ccred'), `no ccred in ${bin}: ${readdirSync(bin).join(', ')}`)
    // The tarball carries the build and the documentation the README links to: nothing else of the
    // repository (sources, tests) comes along.
    const installed = join(prefix, 'lib', 'node_modules', 'ccred')
    assert.deepEqual(readdirSync(installed).filter((name) => name !== 'node_modules').sort(), ['README.md', 'dist', 'docs', 'package.json'])
    assert.deepEqual(readdirSync(join(installed, 'dist')).sort(), ['cmd', 'src'])

    // PATH as a user's shell has it after the install: the prefix's bin, then this node.
    const path = [bin, dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter)
    const shell = (command: string) => spawnSync('/bin/sh', ['-c', command], { env: { ...sandbox.env, PATH: path }, encoding: 'utf8', timeout: 60_000 })

    const versionRun = shell('ccred --version')
    assert.equal(versionRun.status, 0, versionRun.stderr)
    assert.equal(versionRun.stdout.trim(), version)

    const get = shell('ccred get demo')
    assert.equal(get.status, 0, get.stderr)
    assert.match(get.stdout, /^ccred-demo-[0-9a-f]{32}\n$/)
    assert.equal(get.stderr, '')

    if (claudeMissing(t)) return
    const run = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: 'ccred get demo' },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url, PATH: path }),
      timeoutMs: 90_000,
    })
    assert.equal(run.code, 0, describeRun(run, sandbox))
    const sent = gateway.requests.filter((request) => request.method === 'POST' && request.path.startsWith('/v1/messages'))
    assert.ok(sent.length >= 1, describeRun(run, sandbox, 'the gateway saw no /v1/messages request'))
    assert.match(sent[0]!.credential ?? '', DEMO_VALUE)
    // The daemon serving it is the installed copy's, started by the helper from PATH.
    assert.equal(sent[0]!.credential, get.stdout.trim())
  } finally {
    await gateway.close()
    await sandbox.cleanup()
    rmSync(work, { recursive: true, force: true })
  }
})
