import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
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
const require = createRequire(import.meta.url)
/** The one SDK list, as the rule file reads it. */
const SDK_PACKAGES = require(join(root, '.dependency-cruiser-sdks.cjs')) as string[]
/** The rules of the every-import pass, as depcruise reads them. */
const everyImportRules = (): { name: string; from: { path?: string }; to: { path?: string } }[] => {
  delete require.cache[ruleFile]
  const saved = process.env.CCRED_DEPCRUISE_GRAPH
  delete process.env.CCRED_DEPCRUISE_GRAPH
  try {
    return (require(ruleFile) as { forbidden: { name: string; from: { path?: string }; to: { path?: string } }[] }).forbidden
  } finally {
    if (saved !== undefined) process.env.CCRED_DEPCRUISE_GRAPH = saved
  }
}

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
  // "  error <rule>: <from> → <to>" per violation, or "  error <rule>: <from> → [<to>]\n      <step> →\n      <last step>" with a chain
  const report = result.stdout.split(/^x \d+ dependency violations/m)[0]!
  const violations = report.split(/^\s*error /m).slice(1).map((block) => {
    const [head, ...steps] = block.trim().split('\n')
    const [rule, from] = head!.split(': ')
    // A plain rule names its one edge on the head line; a cycle or reachability rule lists the steps below it.
    const [first, target] = from!.split(' →').map((part) => part.trim())
    const rest = steps.length > 0 ? steps.map((step) => step.replace(/→\s*$/, '').trim()) : [target!]
    return { rule: rule!, chain: [first!, ...rest] }
  })
  return { status: result.status, violations }
}

const describeViolation = (violation: Violation): string => `${violation.rule}: ${violation.chain.join(' -> ')}`

// The rules are a property of the source tree, checked by npm test on Linux; under Wine, starting
// depcruise (a Linux-side dev tool run by a Windows node) fails now and then with spawnSync UNKNOWN.
const depcruiseUnderWine: string | false = process.env.CCRED_TEST_UNDER_WINE === '1' && 'wine-limit: the layering rules run depcruise as a child process, which Wine starts unreliably (spawnSync UNKNOWN); npm test checks them on Linux'

describe('layering rules (.dependency-cruiser.cjs)', { skip: depcruiseUnderWine }, () => {
  it('report a folder cycle (even one closed by a lazy import()), a file cycle, imports up the layers, from a root file, and from a folder in no layer', () => {
    const { status, violations } = cruise(fixture, ['src', 'cmd'], 'every-import')
    assert.notEqual(status, 0, 'depcruise must exit non-zero so that npm test fails')
    assert.deepEqual(violations.map(describeViolation).sort(), [
      'folder-in-layer-order-imported: src/setup/plan.ts -> src/stray/odd.ts',
      'folder-in-layer-order: src/stray/odd.ts -> src/net/deadline.ts',
      'layer-aws-store: src/store/keychain.ts -> src/cli/warm-get.ts',
      'layer-config-net-jwt-text: src/config/load.ts -> src/sources/registry.ts',
      'no-folder-cycles: src/config -> src/sources -> src/config',
      'no-folder-cycles: src/sources -> src/config -> src/sources',
      'no-module-cycles: src/output/format.ts -> src/output/table.ts -> src/output/format.ts',
      'protocol-transitional-imports: src/protocol.ts -> src/net/deadline.ts',
      'root-files-import-no-folder: src/clock.ts -> src/net/deadline.ts',
      'root-files-import-no-folder: src/errors.ts -> src/text/sanitize.ts',
    ])
  })

  it('report an import one layer up from every layer, and none within a layer or down', () => {
    const layerRules = everyImportRules().filter((rule) => rule.name.startsWith('layer-'))
    // Without these the loop below would prove little (e.g. the rules stopped being generated).
    assert.ok(layerRules.length >= 15, `${layerRules.length} layer rules`)
    const tree = mkdtempSync(join(tmpdir(), 'ccred-layers-'))
    try {
      copyFileSync(join(fixture, 'tsconfig.json'), join(tree, 'tsconfig.json'))
      const write = (file: string, text: string) => {
        mkdirSync(dirname(join(tree, file)), { recursive: true })
        writeFileSync(join(tree, file), text)
      }
      const expected: string[] = []
      for (const rule of layerRules) {
        // from.path is ^(src/a|src/b)/ and to.path lists the layers above, the nearest last.
        const from = /^\^\(([^|)]+)/.exec(rule.from.path!)![1]!
        const nearestAbove = /([^|(]+)\)\/$/.exec(rule.to.path!)![1]!
        write(`${nearestAbove}/target.ts`, 'export const target = 1\n')
        write(`${from}/up.ts`, `import { target } from '${'../'.repeat(from.split('/').length)}${nearestAbove}/target.js'\nexport const up = target\n`)
        expected.push(`${rule.name}: ${from}/up.ts -> ${nearestAbove}/target.ts`)
      }
      // Within a layer and down a layer: no violation.
      write('src/vault/peer.ts', "import { target } from '../oidc/target.js'\nexport const peer = target\n")
      write('src/text/target.ts', 'export const target = 1\n')
      write('src/cli/down.ts', "import { target } from '../text/target.js'\nexport const down = target\n")
      const { status, violations } = cruise(tree, ['src', 'cmd'], 'every-import')
      assert.notEqual(status, 0)
      assert.deepEqual(violations.map(describeViolation).sort(), expected.sort())
    } finally {
      rmSync(tree, { recursive: true, force: true })
    }
  })

  it('report an SDK and relay/ imported statically on the warm get path, not an SDK or setup/ behind import()', () => {
    const { status, violations } = cruise(fixture, ['cmd'], 'static')
    assert.notEqual(status, 0)
    assert.equal(violations.length, 2, violations.map(describeViolation).join('\n'))
    const relay = violations.find((violation) => violation.rule === 'warm-get-path-no-setup-doctor-relay')
    assert.deepEqual(relay?.chain, ['cmd/ccred.ts', 'src/cli/warm-get.ts', 'src/relay/serve.ts'])
    const violation = violations.find((violation) => violation.rule === 'warm-get-path-no-sdk')
    // The chain names the file that broke the rule; warm-get.ts's import('jose') is not in it.
    assert.deepEqual(violation!.chain.slice(0, -1), ['cmd/ccred.ts', 'src/cli/warm-get.ts', 'src/output/format.ts'])
    assert.match(violation!.chain.at(-1)!, /(^|\/)node_modules\/jose\//)
  })
})

// The bundled bin is what Claude Code runs; esbuild marks each bundled file with a `// path` line.

describe('the bundled bin (dist/cmd/ccred.cjs)', () => {
  it('contains the warm get path and no SDK', () => {
    const bundle = readFileSync(join(root, 'dist', 'cmd', 'ccred.cjs'), 'utf8')
    const bundledFiles = [...bundle.matchAll(/^\/\/ (\S+)$/gm)].map((match) => match[1]!)
    // Without these the search below would prove nothing (e.g. esbuild stopped writing path comments).
    assert.ok(bundledFiles.includes('cmd/ccred.ts'), 'the bundle names its files')
    assert.ok(bundledFiles.some((file) => file.startsWith('src/client/')), 'the bundle holds the client')
    const sdkFiles = bundledFiles.filter((file) => SDK_PACKAGES.some((sdk) => file.includes(`node_modules/${sdk}/`)))
    assert.deepEqual(sdkFiles, [])
    // Nor left as a require() of the package at run time.
    for (const sdk of SDK_PACKAGES) {
      const required = new RegExp(`require\\(["']${sdk.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}["'/]`)
      assert.doesNotMatch(bundle, required, `the bundle requires ${sdk}`)
    }
  })
})
