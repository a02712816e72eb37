import { spawn } from 'node:child_process'
import { KEYCHAIN_SERVICE } from './store.js'

/**
 * The macOS keychain through Apple's own `/usr/bin/security`, preferred there over the
 * native bindings. A keychain item's access list trusts the program that created it by
 * its code signature: created through keytar it trusts *this* node binary, and every
 * `brew upgrade node` (a new binary) makes macOS ask again, in a dialog a helper run
 * cannot answer. Created through `security`, it trusts Apple's signed tool, which node
 * upgrades do not change. Items are the same generic passwords (service "ccred",
 * account NAME) keytar files, so secrets stored before are found (macOS asks once to
 * let `security` read an item keytar created; "Always Allow" settles it).
 *
 * The secret never goes in argv: reads print it on stdout (`-w`); writes go through
 * `security -i` on stdin, hex-encoded (`-X`), so no quoting of the value is involved.
 * Written from Apple's `security(1)` manual and unit-tested on Linux against a stand-in
 * program; not yet run on a Mac.
 */
export interface SecurityCliBackend {
  readonly name: 'security'
  get(account: string): Promise<string | null>
  set(account: string, password: string): Promise<void>
  delete(account: string): Promise<boolean>
}

export const SECURITY_PATH = '/usr/bin/security'
/** security(1)'s exit status for "The specified item could not be found in the keychain." */
const ITEM_NOT_FOUND = 44
/** Account names go on security's command line (`-i` splits it at spaces): these characters only. */
const SAFE_ACCOUNT = /^[A-Za-z0-9._@+-]{1,200}$/

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function run(file: string, args: string[], input: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }))
    child.stdin.end(input)
  })
}

function failure(what: string, result: Run): Error {
  // security's own message carries the OSStatus (-25308 over SSH, -128 for a refused dialog): keychainHint reads it.
  const line = result.stderr.trim().split('\n').pop() || `exit status ${result.status}`
  return new Error(`security ${what}: ${line}`)
}

function checkedAccount(account: string): string {
  if (!SAFE_ACCOUNT.test(account)) throw new Error(`the keychain name ${JSON.stringify(account.slice(0, 40))} has characters security -i cannot take (use letters, digits, . _ @ + -)`)
  return account
}

export function securityCliBackend(securityPath: string = SECURITY_PATH): SecurityCliBackend {
  return {
    name: 'security',
    async get(account) {
      const result = await run(securityPath, ['find-generic-password', '-s', KEYCHAIN_SERVICE, '-a', checkedAccount(account), '-w'], '')
      if (result.status === ITEM_NOT_FOUND) return null
      if (result.status !== 0) throw failure('find-generic-password', result)
      return result.stdout.replace(/\n$/, '')
    },
    async set(account, password) {
      const hex = Buffer.from(password, 'utf8').toString('hex')
      // -U: update the item when it exists. Interactive mode keeps going after an error, so
      // KeychainStore.set reads the value back before saying it is stored.
      const result = await run(securityPath, ['-i'], `add-generic-password -U -s ${KEYCHAIN_SERVICE} -a ${checkedAccount(account)} -X ${hex}\n`)
      if (result.status !== 0) throw failure('add-generic-password', result)
    },
    async delete(account) {
      const result = await run(securityPath, ['delete-generic-password', '-s', KEYCHAIN_SERVICE, '-a', checkedAccount(account)], '')
      if (result.status === ITEM_NOT_FOUND) return false
      if (result.status !== 0) throw failure('delete-generic-password', result)
      return true
    },
  }
}
