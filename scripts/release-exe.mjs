#!/usr/bin/env node
/**
 * Release archives of the standalone executables, and their check.
 *   npm run release:exe          dist/release/ccred-<version>-<os>-<arch>.tar.gz (the executable as
 *                                `ccred`/`ccred.exe` and a README) and SHA256SUMS
 *   npm run release:verify       recomputes every sum in SHA256SUMS (any mismatch or missing file
 *                                fails), and runs this machine's archive's `ccred --version`
 *                                from a fresh extraction with no node on PATH
 * tar.gz for every platform (Windows 10 and later ship tar). Nothing is signed: see
 * docs/install-standalone.md for what a release still needs on macOS and Windows runners.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXE_TARGETS, exeFileName } from './exe-targets.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const out = join(root, 'dist', 'release')
const archiveName = (target) => `ccred-${version}-${target.name}.tar.gz`
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')

function make() {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const sums = []
  for (const target of EXE_TARGETS) {
    const built = join(root, 'dist', 'exe', exeFileName(target))
    if (!existsSync(built)) {
      console.error(`${target.name}: no ${built} (npm run build:exe); no archive`)
      continue
    }
    const stage = mkdtempSync(join(tmpdir(), 'ccred-release-'))
    const dir = join(stage, `ccred-${version}-${target.name}`)
    mkdirSync(dir)
    copyFileSync(built, join(dir, target.file))
    execFileSync('chmod', ['0755', join(dir, target.file)])
    writeFileSync(join(dir, 'README.txt'), `ccred ${version} for ${target.name}: one executable, no Node needed.\nPut ${target.file} on your PATH; see docs/install-standalone.md in the ccred repository.\n`)
    // Reproducible enough to compare: fixed owner, sorted names; gzip -n leaves out the time.
    execFileSync('sh', ['-c', `tar --sort=name --owner=0 --group=0 --numeric-owner -cf - -C "$1" "$2" | gzip -n -9 > "$3"`, 'sh', stage, `ccred-${version}-${target.name}`, join(out, archiveName(target))])
    rmSync(stage, { recursive: true, force: true })
    sums.push(`${sha256(join(out, archiveName(target)))}  ${archiveName(target)}`)
    console.log(`dist/release/${archiveName(target)}`)
  }
  writeFileSync(join(out, 'SHA256SUMS'), `${sums.join('\n')}\n`)
  console.log('dist/release/SHA256SUMS')
}

function verify() {
  const lines = readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n')
  let bad = 0
  for (const line of lines) {
    const [sum, name] = line.split(/\s+/)
    const file = join(out, name)
    const ok = existsSync(file) && sha256(file) === sum
    if (!ok) bad++
    console.log(`${ok ? 'OK  ' : 'FAIL'} ${name}`)
  }
  const host = EXE_TARGETS.find((t) => t.os === process.platform && t.cpu === process.arch)
  if (host !== undefined && lines.some((line) => line.endsWith(archiveName(host)))) {
    const stage = mkdtempSync(join(tmpdir(), 'ccred-verify-'))
    try {
      execFileSync('tar', ['-xzf', join(out, archiveName(host)), '-C', stage])
      const exe = join(stage, `ccred-${version}-${host.name}`, host.file)
      const said = execFileSync(exe, ['--version'], { encoding: 'utf8', env: { PATH: '/nonexistent', HOME: stage } }).trim()
      const ok = said === version
      if (!ok) bad++
      console.log(`${ok ? 'OK  ' : 'FAIL'} ${archiveName(host)} runs without node: ccred --version says ${said}`)
    } finally {
      rmSync(stage, { recursive: true, force: true })
    }
  }
  if (bad > 0) {
    console.error(`${bad} check(s) failed`)
    process.exitCode = 1
  }
}

if (process.argv[2] === 'verify') verify()
else make()
