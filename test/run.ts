/**
 * `npm test`: runs every compiled test file with node's test runner.
 * `node dist/test/run.js unit integration` runs only those folders.
 * `CCRED_TEST_NO_SKIP=1` (CI, which has every part: keytar, gnome-keyring, Chromium, openssl, a
 * second user) fails the run when any test was skipped, naming each one and its reason.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { daemonProcessesMarked, TEST_RUN_MARK } from './helpers/sandbox.js'

const testRoot = dirname(fileURLToPath(import.meta.url))
const folders = process.argv.slice(2)

function collect(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'helpers' || name === 'fixtures' ? [] : collect(path)
    return name.endsWith('.test.js') ? [path] : []
  })
}

const files = collect(testRoot)
  .filter((file) => folders.length === 0 || folders.some((folder) => relative(testRoot, file).startsWith(folder)))
  .sort()
if (files.length === 0) {
  console.error(`no test files found under ${testRoot} for ${folders.join(', ') || 'all folders'}`)
  process.exit(1)
}
const noSkip = process.env.CCRED_TEST_NO_SKIP === '1'
// Beside the spec report on the terminal, a TAP copy in a file: its "# SKIP" directives name every skip.
const tapDir = noSkip ? mkdtempSync(join(tmpdir(), 'ccred-tap-')) : undefined
const tapPath = tapDir === undefined ? undefined : join(tapDir, 'report.tap')
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout']
if (tapPath !== undefined) reporters.push('--test-reporter=tap', `--test-reporter-destination=${tapPath}`)
// Every sandbox carries this run's mark into the daemons it starts (test/helpers/sandbox.ts).
const runMark = randomUUID()
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...reporters, ...files], { stdio: 'inherit', env: { ...process.env, [TEST_RUN_MARK]: runMark } })
child.on('exit', (signalledCode, signal) => {
  let exitCode = signalledCode ?? (signal === null ? 1 : 128)
  // A daemon that outlived its test: named, stopped, and the run fails (other users' daemons lack the mark).
  const leaked = daemonProcessesMarked(TEST_RUN_MARK, runMark)
  if (leaked.length > 0) {
    console.error(`\n${leaked.length} ccred daemon(s) outlived this test run, which fails it:`)
    for (const pid of leaked) {
      console.error(`  - pid ${pid}: ${describeProcess(pid)}`)
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
    if (exitCode === 0) exitCode = 1
  }
  if (tapPath === undefined) process.exit(exitCode)
  const skipped = skippedTests(readFileSync(tapPath, 'utf8'))
  rmSync(tapDir!, { recursive: true, force: true })
  if (skipped.length > 0) {
    console.error(`\nCCRED_TEST_NO_SKIP=1: ${skipped.length} test(s) skipped, which fails this run:`)
    for (const line of skipped) console.error(`  - ${line}`)
    process.exit(exitCode === 0 ? 1 : exitCode)
  }
  console.error('CCRED_TEST_NO_SKIP=1: no test was skipped')
  process.exit(exitCode)
})

/** A leaked daemon's command line and the sandbox it came from, for the failure message. */
function describeProcess(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    const sandbox = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((entry) => entry.startsWith('CCRED_TEST_SANDBOX='))
    return `${cmdline}${sandbox === undefined ? '' : ` (${sandbox})`}`
  } catch {
    return 'exited meanwhile'
  }
}

/** "ok 3 - name # SKIP reason" lines of a TAP report, as "name: reason" (TODO counts as a skip too). */
function skippedTests(tap: string): string[] {
  const skipped: string[] = []
  for (const line of tap.split('\n')) {
    const match = /^\s*(?:not )?ok \d+ - (.*?) # (SKIP|TODO)\b\s*(.*)$/i.exec(line)
    if (match !== null) skipped.push(`${match[1]}: ${match[3] || match[2]}`)
  }
  return skipped
}
