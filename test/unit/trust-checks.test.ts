import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CONFIG_MAX_BYTES, readTrustedConfigFile } from '../../src/config/file-trust.js'
import { isHolderAlive, lockContent, processStartTicks, readLockHolder } from '../../src/rendezvous/owned-files.js'
import { checkParentChain, openRuntimeDir, RuntimeDirMissing } from '../../src/rendezvous/runtime-dir.js'
import { CcredError } from '../../src/errors.js'

const roots: string[] = []
function root(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccr-trust-'))
  roots.push(dir)
  return dir
}
after(() => { for (const dir of roots) rmSync(dir, { recursive: true, force: true }) })

const unixOnly = process.platform === 'win32' ? { skip: 'Unix modes' } : {}

describe('runtime directory checks', unixOnly, () => {
  it('a private directory opens; absent is RuntimeDirMissing; a symlink, 0755 or a group-writable parent is refused with the fix', () => {
    const base = root()
    const dir = join(base, 'run')
    assert.throws(() => openRuntimeDir(dir), RuntimeDirMissing)
    mkdirSync(dir, { mode: 0o700 })
    const pinned = openRuntimeDir(dir)
    assert.equal(pinned.displayFile('ccred.sock'), join(dir, 'ccred.sock'))
    if (process.platform === 'linux') assert.match(pinned.file('ccred.sock'), /^\/proc\/self\/fd\/\d+\/ccred\.sock$/)
    pinned.close()

    const link = join(base, 'link')
    symlinkSync(dir, link)
    assert.throws(() => openRuntimeDir(link), (error: CcredError) => /is not a plain directory/.test(error.message) && error.code === 'ERR_DAEMON')

    chmodSync(dir, 0o755)
    assert.throws(() => openRuntimeDir(dir), (error: CcredError) => /accessible to other users \(mode 755\)/.test(error.message) && error.hint === `run: chmod 700 ${dir}`)
    chmodSync(dir, 0o700)

    chmodSync(base, 0o775)
    assert.throws(() => openRuntimeDir(dir), (error: CcredError) => error.message.includes(`lies inside ${base}, which other users can write (mode 775)`) && error.hint!.startsWith(`run: chmod go-w ${base}`))
    chmodSync(base, 0o1777)
    assert.equal(checkParentChain(dir), undefined, 'a sticky parent is fine (like /tmp)')
    openRuntimeDir(dir).close()
  })
})

describe('config file trust', unixOnly, () => {
  it('refuses a group/world-writable file or directory with chmod go-w, a sticky own directory, and a file over the cap before reading it', () => {
    const dir = join(root(), 'ccred')
    mkdirSync(dir, { mode: 0o755 })
    const file = join(dir, 'config.toml')
    writeFileSync(file, '[broker]\n', { mode: 0o644 })
    assert.equal(readTrustedConfigFile(file), '[broker]\n')

    chmodSync(file, 0o664)
    assert.throws(() => readTrustedConfigFile(file), (error: CcredError) => error.code === 'ERR_CONFIG' && error.hint === `run: chmod go-w ${file}`)
    chmodSync(file, 0o644)
    chmodSync(dir, 0o777)
    assert.throws(() => readTrustedConfigFile(file), (error: CcredError) => error.hint === `run: chmod go-w ${dir}`)
    chmodSync(dir, 0o1777)
    assert.throws(() => readTrustedConfigFile(file), (error: CcredError) => /writable by group or others \(mode 1777\)/.test(error.message), 'sticky is no help for the config\'s own directory')
    chmodSync(dir, 0o755)

    writeFileSync(file, 'x'.repeat(CONFIG_MAX_BYTES + 1))
    assert.throws(() => readTrustedConfigFile(file), (error: CcredError) => error.message.includes(`is ${CONFIG_MAX_BYTES + 1} bytes, over the 1 MiB limit`))
    writeFileSync(file, 'x'.repeat(CONFIG_MAX_BYTES))
    assert.equal(readTrustedConfigFile(file).length, CONFIG_MAX_BYTES, 'exactly the cap is fine')
  })

  it('a symlinked config is checked where its name is and where the file is', () => {
    const base = root()
    const real = join(base, 'dotfiles')
    const named = join(base, 'named')
    mkdirSync(real, { mode: 0o755 })
    mkdirSync(named, { mode: 0o755 })
    writeFileSync(join(real, 'ccred.toml'), '[broker]\n', { mode: 0o644 })
    symlinkSync(join(real, 'ccred.toml'), join(named, 'config.toml'))
    assert.equal(readTrustedConfigFile(join(named, 'config.toml')), '[broker]\n')
    chmodSync(named, 0o777)
    assert.throws(() => readTrustedConfigFile(join(named, 'config.toml')), (error: CcredError) => error.hint === `run: chmod go-w ${named}`)
  })
})

describe('lock holder', { skip: process.platform === 'linux' ? false : 'start times come from /proc' }, () => {
  it('is alive only with the pid and its start time; a reused pid or a lock without a start time is stale', () => {
    const dir = root()
    const lock = join(dir, 'daemon.lock')
    writeFileSync(lock, lockContent())
    const holder = readLockHolder(lock)!
    assert.equal(holder.pid, process.pid)
    assert.equal(holder.startTicks, processStartTicks(process.pid))
    assert.equal(isHolderAlive(holder), true)
    assert.equal(isHolderAlive({ pid: process.pid, startTicks: `${Number(holder.startTicks) + 1}` }), false)
    assert.equal(isHolderAlive({ pid: process.pid }), false)
    writeFileSync(lock, 'garbage')
    assert.equal(readLockHolder(lock), undefined)
  })
})
