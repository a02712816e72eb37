#!/usr/bin/env node
/**
 * `npm run pack:exe`: one npm package per built executable, dist/packages/ccred-<os>-<arch>/,
 * with `os` and `cpu` set so npm installs only the one that fits, and
 * dist/packages/ccred/package.json: the main package's manifest with those packages as
 * optional dependencies (pinned to this version). The main package keeps its node bin as the
 * fallback where none fits (another libc, an install with --omit=optional); `setup claude`
 * and `daemon install` write the packaged executable into helpers when npm installed it
 * (src/setup/ccred-command.ts). The repository's own package.json does not list them: they
 * do not exist on the registry until a release publishes them, and `npm ci` must keep working.
 * Publish order for a release: every dist/packages/ccred-<os>-<arch>, then the main package
 * with dist/packages/ccred/package.json in place of package.json.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXE_TARGETS, exeFileName } from './exe-targets.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const out = join(root, 'dist', 'packages')
rmSync(out, { recursive: true, force: true })
const packed = []
for (const target of EXE_TARGETS) {
  const built = join(root, 'dist', 'exe', exeFileName(target))
  if (!existsSync(built)) {
    console.error(`${target.name}: no ${built} (npm run build:exe); not packed`)
    continue
  }
  const name = `ccred-${target.name}`
  const dir = join(out, name)
  mkdirSync(join(dir, 'bin'), { recursive: true })
  copyFileSync(built, join(dir, 'bin', target.file))
  chmodSync(join(dir, 'bin', target.file), 0o755)
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({
    name,
    version: main.version,
    description: `The ccred standalone executable for ${target.name} (no Node needed); installed by the ccred package as an optional dependency`,
    license: main.license,
    os: [target.os],
    cpu: [target.cpu],
    ...(target.os === 'linux' ? { libc: ['glibc'] } : {}),
    files: ['bin'],
    preferUnplugged: true,
  }, null, 2)}\n`)
  writeFileSync(join(dir, 'README.md'), `# ${name}\n\nThe [ccred](https://www.npmjs.com/package/ccred) executable for ${target.name}. Install \`ccred\`, not this package: npm picks the one for your platform.\n`)
  packed.push(name)
  console.log(`${join('dist', 'packages', name)}`)
}
const manifest = { ...main, optionalDependencies: { ...main.optionalDependencies, ...Object.fromEntries(packed.map((name) => [name, main.version])) } }
delete manifest.devDependencies
mkdirSync(join(out, 'ccred'), { recursive: true })
writeFileSync(join(out, 'ccred', 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
console.log(`${join('dist', 'packages', 'ccred', 'package.json')} (optionalDependencies: ${packed.join(', ')})`)
