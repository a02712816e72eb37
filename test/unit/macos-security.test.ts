import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { KeychainStore, loadKeychainBackends } from '../../src/store/keychain.js'

/**
 * A stand-in for macOS's /usr/bin/security (a real program, run as ccred runs it): the
 * three sub-commands ccred uses, their exit status 44 for a missing item, `-i` reading
 * commands from stdin, items kept in a JSON file; every argv is logged so the test can
 * see that no secret was passed on a command line.
 */
const dir = mkdtempSync(join(tmpdir(), 'ccred-security-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const items = join(dir, 'items.json')
const argvLog = join(dir, 'argv.log')
const security = join(dir, 'security')
writeFileSync(security, `#!${process.execPath}
const fs = require('fs')
fs.appendFileSync(${JSON.stringify(argvLog)}, JSON.stringify(process.argv.slice(2)) + '\\n')
const load = () => { try { return JSON.parse(fs.readFileSync(${JSON.stringify(items)}, 'utf8')) } catch { return {} } }
const save = (all) => fs.writeFileSync(${JSON.stringify(items)}, JSON.stringify(all))
const opt = (args, flag) => args[args.indexOf(flag) + 1]
function command(args) {
  const all = load(), key = opt(args, '-s') + '/' + opt(args, '-a')
  if (args[0] === 'find-generic-password') {
    if (!(key in all)) { process.stderr.write('security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\\n'); process.exit(44) }
    process.stdout.write(all[key] + '\\n')
  } else if (args[0] === 'add-generic-password') {
    if (key in all && !args.includes('-U')) { process.stderr.write('security: already exists\\n'); return }
    all[key] = Buffer.from(opt(args, '-X'), 'hex').toString('utf8'); save(all)
  } else if (args[0] === 'delete-generic-password') {
    if (!(key in all)) process.exit(44)
    delete all[key]; save(all)
  } else process.exit(2)
}
if (process.argv[2] === '-i') {
  for (const line of fs.readFileSync(0, 'utf8').split('\\n').filter(Boolean)) command(line.split(' '))
} else command(process.argv.slice(2))
`)
chmodSync(security, 0o755)

describe('macOS keychain through /usr/bin/security (a stand-in program on Linux)', { skip: process.platform === 'win32' && 'the stand-in for security is a #! script' }, () => {
  const loaded = loadKeychainBackends({}, 'darwin', security)
  const store = new KeychainStore({}, 'darwin', loaded)

  it('is preferred on macOS when the program exists, the bindings kept as the fallback for reads', () => {
    assert.equal(store.state().backend, 'security')
    assert.equal(loadKeychainBackends({}, 'linux', security).state.backend === 'security', false, 'Linux never uses it')
    assert.notEqual(loadKeychainBackends({}, 'darwin', join(dir, 'missing')).state.backend, 'security', 'absent: the bindings serve')
    assert.notEqual(loadKeychainBackends({ CCRED_KEYCHAIN_BACKEND: 'keytar' }, 'darwin', security).state.backend, 'security', 'a forced binding wins')
  })

  it('stores, reads back, updates and deletes; the secret never appears in any argv', async () => {
    const secret = 'sk-live "quoted" $HOME `x` ünï 😀 -X 00'
    await store.set('corp', secret)
    assert.equal(await store.get('corp'), secret)
    await store.set('corp', `${secret}-2`)
    assert.equal(await store.get('corp'), `${secret}-2`)
    assert.equal(await store.delete('corp'), true)
    assert.equal(await store.get('corp'), undefined, 'exit 44 is a miss, not an error')
    assert.equal(await store.delete('corp'), false)
    const argvs = readFileSync(argvLog, 'utf8')
    assert.ok(!argvs.includes('sk-live') && !argvs.includes(Buffer.from('sk-live').toString('hex')), argvs)
  })

  it('a name security -i cannot take is refused, not split into other arguments', async () => {
    await assert.rejects(store.set('a b -U', 'x'), /cannot take/)
  })
})
