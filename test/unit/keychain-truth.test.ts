/**
 * The keychain says only what is true: a write that does not read back is an error
 * (never "stored"), and a binding that does not load is explained by its real cause
 * with the fix for that cause.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isCcredError } from '../../src/errors.js'
import { KeychainStore, type KeychainBackend, type Loaded } from '../../src/store/keychain.js'
import { bindingLoadProblem } from '../../src/store/keychain-platform.js'

/** A binding as the keyring crate behaves without a Secret Service: the write "succeeds", the entry is not there for the next read. */
function forgetfulBinding(): KeychainBackend {
  return { name: '@napi-rs/keyring', get: async () => null, set: async () => {}, delete: async () => false }
}

function workingBinding(): KeychainBackend {
  const entries = new Map<string, string>()
  return {
    name: '@napi-rs/keyring',
    get: async (account) => entries.get(account) ?? null,
    set: async (account, password) => { entries.set(account, password) },
    delete: async (account) => entries.delete(account),
  }
}

const loaded = (primary: KeychainBackend): Loaded => ({ primary, state: { backend: primary.name, problems: [] } })

describe('every write is read back', () => {
  it('a write the binding accepts but cannot return is ERR_KEYCHAIN_UNAVAILABLE, naming the binding and the file store', async () => {
    const store = new KeychainStore({}, 'linux', loaded(forgetfulBinding()))
    await assert.rejects(store.set('litellm-signing-key', 'pem'), (error: unknown) => {
      assert.ok(isCcredError(error, 'ERR_KEYCHAIN_UNAVAILABLE'))
      assert.match(error.message, /@napi-rs\/keyring accepted the secret but does not return it when read back/)
      assert.match(error.hint ?? '', /store = "file"/)
      assert.ok(!error.message.includes('pem') && !(error.hint ?? '').includes('pem'), 'never the secret')
      return true
    })
  })

  it('a binding that returns another value is refused too', async () => {
    const binding = workingBinding()
    const store = new KeychainStore({}, 'linux', loaded({ ...binding, get: async () => 'someone-else' }))
    await assert.rejects(store.set('k', 'v'), /returns a different value when read back/)
  })

  it('a binding that keeps what it is given stores quietly', async () => {
    const store = new KeychainStore({}, 'linux', loaded(workingBinding()))
    await store.set('k', 'v')
    assert.equal(await store.get('k'), 'v')
  })
})

describe('a binding that does not load: the real cause and its fix', () => {
  it('keytar not installed at all: no `npm rebuild keytar` (it changes nothing), but the headers and a reinstall', () => {
    let error: unknown
    try {
      createRequire(join(mkdtempSync(join(tmpdir(), 'ccred-nokeytar-')), 'x.js'))('keytar')
    } catch (caught) {
      error = caught
    }
    assert.equal((error as { code?: string }).code, 'MODULE_NOT_FOUND')
    const linux = bindingLoadProblem('keytar', error, 'linux')
    assert.equal(linux.detail, 'keytar is not installed (npm skips it when it cannot build it)')
    assert.match(linux.fix, /^apt-get install libsecret-1-dev .*npm install -g ccred$/)
    assert.doesNotMatch(linux.fix, /rebuild/)
    assert.doesNotMatch(bindingLoadProblem('keytar', error, 'darwin').fix, /libsecret|rebuild/)
  })

  it('keytar built but its libsecret missing at run time: install the library', () => {
    const error = new Error('libsecret-1.so.0: cannot open shared object file: No such file or directory')
    assert.match(bindingLoadProblem('keytar', error, 'linux').fix, /^apt-get install libsecret-1-0/)
  })

  it('Windows without the Visual C++ runtime: napi-rs\'s "npm has a bug" text is looked through', () => {
    const error = new Error('Cannot find native binding. npm has a bug related to optional dependencies (https://github.com/npm/cli/issues/4828). Please try `npm i` again after removing both package-lock.json and node_modules directory.')
    error.cause = new Error('The specified module could not be found.\r\n\\\\?\\C:\\Program Files\\nodejs\\node_modules\\ccred\\node_modules\\@napi-rs\\keyring-win32-x64-msvc\\keyring.win32-x64-msvc.node')
    const problem = bindingLoadProblem('@napi-rs/keyring', error, 'win32')
    assert.match(problem.detail, /VCRUNTIME140\.dll/)
    assert.match(problem.fix, /Visual C\+\+ Redistributable/)
    assert.doesNotMatch(problem.detail + problem.fix, /npm has a bug|keytar/)
  })

  it('the prebuilt package for this platform missing: reinstall with optional dependencies', () => {
    const error = new Error('Cannot find native binding. npm has a bug related to optional dependencies')
    error.cause = new Error("Cannot find module '@napi-rs/keyring-linux-x64-gnu'\nRequire stack:\n- /x/index.js")
    const problem = bindingLoadProblem('@napi-rs/keyring', error, 'linux')
    assert.equal(problem.detail, "@napi-rs/keyring's prebuilt binding for this platform (@napi-rs/keyring-linux-x64-gnu) is not installed")
    assert.match(problem.fix, /without --omit=optional/)
  })
})
