/**
 * The layering rules, checked in CI by `npm run lint:deps` (part of `npm test`). This file is
 * the source of truth for the layer order (`layers` below); docs/ARCHITECTURE.md describes it.
 *
 * Two graphs, so two passes:
 * - every import, `import()` and `import type` included, for cycles and the layer order: a
 *   lazy or type-only import is still a dependency, and "no folder imports one above it"
 *   holds for it too;
 * - static imports only, from cmd/, for the warm `get` path (no SDK, no setup/, doctor/,
 *   relay/): what `ccred get` loads before its first `import()`, the deliberate lazy boundary.
 * Dependency-cruiser's reachability follows every edge of the graph it is given, so the
 * second pass drops dynamic imports (options.exclude.dynamic) and cruises cmd/ alone:
 *   CCRED_DEPCRUISE_GRAPH=static depcruise cmd --config .dependency-cruiser.cjs
 *   depcruise src cmd --config .dependency-cruiser.cjs
 * test/unit/layering.test.ts runs both on a fixture tree to show each rule can fail.
 */
const staticGraph = process.env.CCRED_DEPCRUISE_GRAPH === 'static'

/** What the warm path must not load (one list, shared with test/unit/layering.test.ts). */
const sdkPackages = require('./.dependency-cruiser-sdks.cjs')
// A scope stands for each of its packages. Matched on the resolved path, wherever node_modules
// is (the fixture test cruises from a subfolder).
const sdkPath = `(^|/)node_modules/(${sdkPackages.map((name) => (name.startsWith('@') ? `${name}/[^/]+` : name)).join('|')})/`

/**
 * The layers, top to bottom: the one statement of the order (docs/ARCHITECTURE.md points
 * here). A folder imports only folders in its own layer or below it; `import()` and
 * `import type` count too. A folder named here that does not exist yet matches nothing.
 * The root files of src/ (credential, errors, clock, version, platform, protocol) sit below
 * every folder: see root-files-import-no-folder.
 */
const layers = [
  ['cmd'],
  ['cli'],
  ['doctor'],
  ['setup'],
  ['client'],
  ['daemon'],
  // The loopback relay: started by the daemon (import() when a route opens), reads only the protocol.
  ['relay'],
  ['service'],
  ['broker'],
  ['profiles'],
  ['sources'],
  ['oidc', 'vault'],
  ['aws', 'store'],
  ['callers'],
  ['rendezvous'],
  // trust/ (workspace trust checks, read by doctor/) imports nothing of src/: low, so whoever reads it may.
  ['trust'],
  ['output'],
  ['config', 'net', 'jwt', 'text'],
]
/** cmd/ is at the repository root; every other layer is a folder of src/. */
const folderPath = (folder) => (folder === 'cmd' ? 'cmd' : `src/${folder}`)
const anyOf = (folders) => `^(${folders.map(folderPath).join('|')})/`

const layerRules = layers.slice(1).map((folders, index) => {
  const above = layers.slice(0, index + 1).flat()
  return {
    name: `layer-${folders.join('-')}`,
    severity: 'error',
    comment:
      `${folders.join(', ')} import only their own layer and the layers below (${layers.slice(index + 2).map((layer) => layer.join(', ')).join(' → ')}), ` +
      `never ${above.join(', ')}: the layer order of .dependency-cruiser.cjs (an import goes down).`,
    from: { path: anyOf(folders) },
    to: { path: anyOf(above) },
  }
})

const everyFolder = layers.flat().filter((folder) => folder !== 'cmd')

const everyImportRules = [
  {
    name: 'no-folder-cycles',
    severity: 'error',
    comment:
      'Folders under src/ form layers: a cycle between two of them (through any chain of imports, import() included) ' +
      'means neither can be understood, tested or loaded without the other.',
    scope: 'folder',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'no-module-cycles',
    severity: 'error',
    comment:
      'No file-level cycle either (none today): ESM evaluates a cycle in an order that depends on who is imported first, ' +
      'so a value read at module load can be undefined.',
    from: { path: '^(src|cmd)/' },
    to: { circular: true },
  },
  ...layerRules,
  {
    name: 'folder-in-layer-order',
    severity: 'error',
    comment:
      'Every folder of src/ has a place in the layer order (`layers` in .dependency-cruiser.cjs): a folder missing there ' +
      'would import and be imported unchecked. Add it to the list, in its layer.',
    from: { path: '^src/[^/]+/', pathNot: anyOf(everyFolder) },
    to: {},
  },
  {
    name: 'folder-in-layer-order-imported',
    severity: 'error',
    comment: 'As folder-in-layer-order, for a folder missing from the layer list that others import.',
    from: {},
    to: { path: '^src/[^/]+/', pathNot: anyOf(everyFolder) },
  },
  {
    name: 'root-files-import-no-folder',
    severity: 'error',
    comment:
      'The files at the root of src/ (credential, errors, clock, version, platform, protocol) are shared by every folder, ' +
      'so they sit below all of them and import none (nor cmd/). protocol.ts has its own, transitional rule below.',
    from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/protocol\\.ts$' },
    to: { path: '^(cmd|src/[^/]+)/' },
  },
  {
    name: 'protocol-transitional-imports',
    severity: 'error',
    comment:
      'protocol.ts, a root file, still imports three folders: config/ (the Header type, profile names, the typed field readers), ' +
      'store/ (a type) and text/. ' +
      'Listed so that no new one passes; each one removed should be removed here too.',
    from: { path: '^src/protocol\\.ts$' },
    to: { path: '^(cmd|src/[^/]+)/', pathNot: '^src/(config|store|text)/' },
  },
]

const staticImportRules = [
  {
    name: 'warm-get-path-no-sdk',
    severity: 'error',
    comment:
      'cmd/ and everything it imports statically (the warm `ccred get`: cli/warm-get, client/, output/format, ' +
      'config/paths, errors) run on every Claude Code helper call and are bundled into dist/cmd/ccred.cjs: ' +
      'they load no SDK. Reach one through import() behind the lazy boundary instead.',
    from: { path: '^cmd/[^/]+\\.ts$' },
    to: { path: sdkPath, reachable: true },
  },
  {
    name: 'warm-get-path-no-setup-doctor-relay',
    severity: 'error',
    comment:
      'The warm `ccred get` loads neither setup/ nor doctor/ (they read and write agent settings files, run once by a person) ' +
      'nor relay/ (a long-running relay, not a helper call): each would add its modules to every helper run. ' +
      'Reach them from the full CLI (cli/main.ts, loaded by import()).',
    from: { path: '^cmd/[^/]+\\.ts$' },
    to: { path: '^src/(setup|doctor|relay)/', reachable: true },
  },
]


module.exports = {
  forbidden: staticGraph ? staticImportRules : everyImportRules,
  options: {
    // TypeScript sources, resolved as tsc does (`.js` specifiers naming `.ts` files).
    tsConfig: { fileName: 'tsconfig.json' },
    // A type-only import ties two folders' designs together (it counts for cycles) but vanishes
    // at compile time, so it loads nothing on the warm path.
    tsPreCompilationDeps: !staticGraph,
    doNotFollow: { path: 'node_modules' },
    ...(staticGraph ? { exclude: { dynamic: true } } : {}),
  },
}
