/**
 * `npm run coverage`: the whole suite under c8, daemon and CLI subprocesses included (c8 sets
 * NODE_V8_COVERAGE, which every child process inherits, so the autostarted daemons, the CLI runs
 * and the in-process tests all report), mapped back to src/ through source maps, then printed per
 * folder. The build for it carries source maps (tsc --sourceMap, esbuild --sourcemap); a plain
 * `npm run build` afterwards drops them again.
 *
 * `node dist/test/coverage.js [folders...]` (after that build) runs the same for some test folders.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const reportDir = join(repo, 'coverage')
const tempDir = join(reportDir, '.v8')

rmSync(reportDir, { recursive: true, force: true })
const c8 = join(repo, 'node_modules', '.bin', 'c8')
const run = spawnSync(c8, [
  '--all', '--src', 'src', '--include', 'src/**', '--exclude-after-remap',
  '--temp-directory', tempDir, '--report-dir', reportDir,
  '--reporter', 'json-summary', '--reporter', 'text-summary',
  process.execPath, join(repo, 'dist', 'test', 'run.js'), ...process.argv.slice(2),
], { cwd: repo, stdio: 'inherit', env: process.env })

const summaryPath = join(reportDir, 'coverage-summary.json')
if (!existsSync(summaryPath)) {
  console.error('no coverage summary was written')
  process.exit(run.status ?? 1)
}

interface Counts { total: number; covered: number }
type FileSummary = Record<'lines' | 'statements' | 'functions' | 'branches', Counts>
const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, FileSummary>
const folders = new Map<string, FileSummary>()
for (const [file, counts] of Object.entries(summary)) {
  if (file === 'total') continue
  const parts = relative(repo, file).split(sep)
  // src/cli/x.ts -> src/cli; src/errors.ts -> src (top-level files)
  const folder = parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0]!
  const into = folders.get(folder) ?? { lines: { total: 0, covered: 0 }, statements: { total: 0, covered: 0 }, functions: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 } }
  for (const key of ['lines', 'statements', 'functions', 'branches'] as const) {
    into[key].total += counts[key].total
    into[key].covered += counts[key].covered
  }
  folders.set(folder, into)
}
const percent = (c: Counts) => (c.total === 0 ? '  n/a' : `${((100 * c.covered) / c.total).toFixed(1).padStart(5)}`)
console.log('\ncoverage per folder (lines %, branches %, functions %):')
console.log('| folder | lines | branches | functions |')
console.log('|---|---:|---:|---:|')
for (const [folder, counts] of [...folders.entries()].sort()) {
  console.log(`| ${folder} | ${percent(counts.lines)} | ${percent(counts.branches)} | ${percent(counts.functions)} |`)
}
const total = summary.total!
console.log(`| all of src | ${percent(total.lines)} | ${percent(total.branches)} | ${percent(total.functions)} |`)
process.exit(run.status ?? 1)
