// file: references (and key files, Vault token files) are read under the config's rules:
// yours, not writable by others, a regular file, bounded, never blocking on a FIFO.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { untrustedProgram } from '../../src/config/file-trust.js'
import { readSecretFile, resolveReference, type ReferenceDeps } from '../../src/config/references.js'
import { CcredError } from '../../src/errors.js'

const roots: string[] = []
function root(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccr-secret-'))
  roots.push(dir)
  return dir
}
after(() => { for (const dir of roots) rmSync(dir, { recursive: true, force: true }) })

const deps: ReferenceDeps = { env: {}, readFile: readSecretFile, homeDir: '/nonexistent', storeGet: async () => undefined, storeDescription: 'none' }
const resolveFile = (path: string) => resolveReference({ kind: 'file', target: path }, 'profiles.p.value', deps, 'p')
const refusedWith = (pattern: RegExp) => (error: unknown) => error instanceof CcredError && error.code === 'ERR_REFERENCE' && pattern.test(error.message) && error.hint !== undefined

describe('file: secrets are checked like the config', process.platform === 'win32' ? { skip: 'Unix modes' } : {}, () => {
  it('a private regular file is read (one trailing newline dropped)', async () => {
    const path = join(root(), 'key')
    writeFileSync(path, 'sk-secret-1\n', { mode: 0o600 })
    assert.equal(await resolveFile(path), 'sk-secret-1')
  })

  it('a file writable by group or others is refused, naming the fix', async () => {
    const path = join(root(), 'key')
    writeFileSync(path, 'sk-secret-1\n')
    chmodSync(path, 0o666)
    await assert.rejects(resolveFile(path), refusedWith(/^profiles\.p\.value: secret file \S+ is writable by group or others \(mode 666\); refusing to use it$/))
  })

  it('a file in a directory others can write is refused (they could replace it)', async () => {
    const dir = join(root(), 'shared')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    writeFileSync(join(dir, 'key'), 'sk\n', { mode: 0o600 })
    await assert.rejects(resolveFile(join(dir, 'key')), refusedWith(/shared is writable by group or others \(mode 777\)/))
  })

  it('a symlink is followed only when the target\'s directories pass too', async () => {
    const base = root()
    const shared = join(base, 'shared')
    mkdirSync(shared)
    writeFileSync(join(shared, 'key'), 'sk-linked\n', { mode: 0o600 })
    symlinkSync(join(shared, 'key'), join(base, 'link'))
    assert.equal(await resolveFile(join(base, 'link')), 'sk-linked')
    chmodSync(shared, 0o777)
    await assert.rejects(resolveFile(join(base, 'link')), refusedWith(/shared is writable by group or others/))
  })

  it('a sticky directory (a Kubernetes secret volume, /tmp) may hold your file: nobody else can replace it there', async () => {
    const dir = join(root(), 'volume')
    mkdirSync(dir)
    chmodSync(dir, 0o1777)
    writeFileSync(join(dir, 'token'), 'sk-in-sticky\n', { mode: 0o640 })
    assert.equal(await resolveFile(join(dir, 'token')), 'sk-in-sticky')
  })

  it('a FIFO fails at once instead of hanging get; so does a device', async () => {
    const fifo = join(root(), 'fifo')
    execFileSync('mkfifo', ['-m', '600', fifo])
    // No writer ever opens it: a blocking open would never return and the test would time out.
    await assert.rejects(resolveFile(fifo), refusedWith(/is not a regular file/))
    await assert.rejects(resolveFile('/dev/zero'), refusedWith(/\/dev\/zero is not a regular file/))
  })

  it('a file over 64 KiB is refused without being read whole', async () => {
    const path = join(root(), 'big')
    writeFileSync(path, 'x'.repeat(64 * 1024 + 1), { mode: 0o600 })
    await assert.rejects(resolveFile(path), refusedWith(/over the 64 KiB limit/))
  })

  it('a file owned by another user is refused (root only: chown needs it)', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const path = join(root(), 'key')
    writeFileSync(path, 'sk\n', { mode: 0o600 })
    execFileSync('chown', ['65534', path])
    await assert.rejects(resolveFile(path), refusedWith(/belongs to uid 65534, not to you \(uid 0\) or root/))
  })
})

describe('an exec program is checked before it runs', process.platform === 'win32' ? { skip: 'Unix modes' } : {}, () => {
  const kind = { label: 'exec command', code: 'ERR_CONFIG' as const, maxBytes: 0, fixPath: '', fixSize: '', stickyParentIsFine: true, groupWritableIsFine: true }
  it('yours in a group-writable directory (/usr/local/bin of an admin group) runs; a world-writable directory or program is refused', () => {
    const dir = join(root(), 'bin')
    mkdirSync(dir)
    chmodSync(dir, 0o775)
    const program = join(dir, 'get-key')
    writeFileSync(program, '#!/bin/sh\necho k\n', { mode: 0o775 })
    chmodSync(program, 0o775)
    assert.equal(untrustedProgram(program, kind), undefined)
    chmodSync(dir, 0o777)
    assert.match(untrustedProgram(program, kind)?.message ?? '', /bin is writable by others \(mode 777\); refusing to use it/)
    chmodSync(dir, 0o755)
    chmodSync(program, 0o777)
    assert.match(untrustedProgram(program, kind)?.message ?? '', /get-key is writable by others \(mode 777\)/)
  })
})
