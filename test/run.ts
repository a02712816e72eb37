/**
 * `npm test`: runs every compiled test file with node's test runner.
 * `node dist/test/run.js unit integration` runs only those folders.
 */
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

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
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit' })
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)))
