import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { repoRoot } from '../helpers/claude.js'

/** One violation as depcruise's `err` reporter prints it: the rule and the chain of modules (or folders) that breaks it. */
interface Violation {
  rule: string
  chain: string[]
}

const root = repoRoot()
const fixture = join(root, 'test', 'fixtures', 'layering')
const depcruiseBin = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs')
const ruleFile = join(root, '.dependency-cruiser.cjs')

/**
 * Cruises `roots` in `cwd` with the repository's own rule file and the `err` reporter, exactly
 * as `npm run lint:deps` does (only that reporter sets the exit status CI relies on).
 */
function cruise(cwd: string, roots: string[], graph: 'every-import' | 'static'): { status: number | null; violations: Violation[] } {
  const env = { ...process.env }
  delete env.CCRED_DEPCRUISE_GRAPH
  if (graph === 'static') env.CCRED_DEPCRUISE_GRAPH = 'static'
  const result = spawnSync(process.execPath, [depcruiseBin, ...roots, '--config', ruleFile, '--output-type', 'err'], { cwd, env, encoding: 'utf8' })
  assert.equal(result.error, undefined)
  // "  error <rule>: <from> → [<to>]\n      <step> →\n      <last step>" per violation
  const report = result.stdout.split(/^x \d+ dependency violations/m)[0]!
  const violations = report.split(/^\s*error /m).slice(1).map((block) => {
    const [head, ...steps] = block.trim().split('\n')
    const [rule, from] = head!.split(': ')
    return { rule: rule!, chain: [from!.split(' →')[0]!, ...steps.map((step) => step.replace(/→\s*$/, '').trim())] }
  })
  return { status: result.status, violations }
}

const describeViolation = (violation: Violation): string => `${violation.rule}: ${violation.chain.join(' -> ')}`

describe('layering rules (.dependency-cruiser.cjs)', () => {
  it('report a folder cycle, even one closed by a lazy import(), and a file cycle', () => {
    const { status, violations } = cruise(fixture, ['src', 'cmd'], 'every-import')
    assert.notEqual(status, 0, 'depcruise must exit non-zero so that npm test fails')
    assert.deepEqual(violations.map(describeViolation).sort(), [
      'no-folder-cycles: src/config -> src/sources -> src/config',
      'no-folder-cycles: src/sources -> src/config -> src/sources',
      'no-module-cycles: src/output/format.ts -> src/output/table.ts -> src/output/format.ts',
    ])
  })

  it('report an SDK imported statically on the warm get path, not one behind import()', () => {
    const { status, violations } = cruise(fixture, ['cmd'], 'static')
    assert.notEqual(status, 0)
    assert.equal(violations.length, 1, violations.map(describeViolation).join('\n'))
    const [violation] = violations
    assert.equal(violation!.rule, 'warm-get-path-no-sdk')
    // The chain names the file that broke the rule; warm-get.ts's import('jose') is not in it.
    assert.deepEqual(violation!.chain.slice(0, -1), ['cmd/ccred.ts', 'src/cli/warm-get.ts', 'src/output/format.ts'])
    assert.match(violation!.chain.at(-1)!, /(^|\/)node_modules\/jose\//)
  })
})

// The bundled bin is what Claude Code runs; esbuild marks each bundled file with a `// path` line.
const SDK_PACKAGES = ['jose', 'node-vault', 'google-auth-library', '@aws-sdk/', '@aws/', '@smithy/', 'openid-client', 'commander', 'smol-toml', 'valibot', 'open']

describe('the bundled bin (dist/cmd/ccred.cjs)', () => {
  it('contains the warm get path and no SDK', () => {
    const bundle = readFileSync(join(root, 'dist', 'cmd', 'ccred.cjs'), 'utf8')
    const bundledFiles = [...bundle.matchAll(/^\/\/ (\S+)$/gm)].map((match) => match[1]!)
    // Without these the search below would prove nothing (e.g. esbuild stopped writing path comments).
    assert.ok(bundledFiles.includes('cmd/ccred.ts'), 'the bundle names its files')
    assert.ok(bundledFiles.some((file) => file.startsWith('src/client/')), 'the bundle holds the client')
    const sdkFiles = bundledFiles.filter((file) => SDK_PACKAGES.some((sdk) => file.includes(`node_modules/${sdk}`)))
    assert.deepEqual(sdkFiles, [])
    // Nor left as a require() of the package at run time.
    for (const sdk of SDK_PACKAGES) {
      const required = new RegExp(`require\\(["']${sdk.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`)
      assert.doesNotMatch(bundle, required, `the bundle requires ${sdk}`)
    }
  })
})
