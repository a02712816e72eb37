import { checkCredential } from '../broker/validate.js'
import { withInProcessService } from '../client/in-process.js'
import { purgeCachedValue } from '../client/purge.js'
import { formatReference } from '../config/references.js'
import { CcredError, EXIT_CODES, isCcredError } from '../errors.js'
import type { Io } from './io.js'

const MAX_SECRET_BYTES = 64 * 1024

export interface SecretInput {
  isTTY: boolean
  /** Reads a line with echo off (TTY only). */
  promptHidden(question: string): Promise<string>
  /** Reads everything piped in. */
  readAll(maxBytes: number): Promise<string>
}

/**
 * `ccred set <profile>`: stores the profile's key in the secret store, read from
 * a hidden prompt or from stdin, never from argv (argv is visible to every user in `ps`).
 */
export async function runSet(profileName: string, io: Io, input: SecretInput): Promise<number> {
  return withInProcessService(io.env, async (service) => {
    const profile = await service.config.profile(profileName)
    const secretName = profile.source.storedSecretName()
    if (secretName === undefined) {
      throw new CcredError('ERR_USAGE', `profile ${profileName} (source ${profile.sourceKind}) does not read its secret from the keychain, so there is nothing to set`, {
        hint: `point it at the keychain, e.g. value = "keychain:${profileName}" in [profiles.${profileName}], then run ccred set ${profileName} again`,
      })
    }
    const raw = input.isTTY
      ? await input.promptHidden(`Secret for profile ${profileName} (stored as "${secretName}"; input hidden): `)
      : await input.readAll(MAX_SECRET_BYTES)
    const value = raw.replace(/\r?\n$/, '')
    if (value === '') throw new CcredError('ERR_USAGE', 'no secret given (empty input)', { hint: `type or pipe the secret: printf %s "$KEY" | ccred set ${profileName}` })
    const ownRule = profile.source.validateStoredSecret(value)
    if (ownRule !== undefined) {
      const { problem } = ownRule
      if (problem !== undefined) throw new CcredError('ERR_USAGE', `not stored: for profile ${profileName}, ${problem}`, { hint: 'nothing was stored; pipe in the right secret and run ccred set again' })
    } else {
      try {
        checkCredential({ kind: 'token', value }, `the secret for ${profileName}`, Date.now())
      } catch (error) {
        if (!isCcredError(error)) throw error
        throw new CcredError('ERR_USAGE', error.message, { hint: 'give the secret as a single line of printable text', cause: error })
      }
    }
    const store = service.runtime.store()
    await store.set(secretName, value)
    // The daemon may hold the previous value: make the next `get` read the new one.
    await purgeCachedValue(profileName, io.env, (line) => io.stderr.write(`${line}\n`))
    io.stderr.write(`ccred: stored the secret for profile ${profileName} as ${formatReference({ kind: 'keychain', target: secretName })} in ${store.describe()}\n`)
    return EXIT_CODES.OK
  })
}

/** The real terminal / stdin. */
export function processSecretInput(): SecretInput {
  return {
    isTTY: Boolean(process.stdin.isTTY),
    promptHidden(question) {
      return new Promise((resolve, reject) => {
        const stdin = process.stdin
        process.stderr.write(question)
        stdin.setRawMode(true)
        stdin.resume()
        stdin.setEncoding('utf8')
        let answer = ''
        const finish = (error?: Error) => {
          stdin.setRawMode(false)
          stdin.pause()
          stdin.off('data', onData)
          process.stderr.write('\n')
          if (error !== undefined) reject(error)
          else resolve(answer)
        }
        const onData = (chunk: string) => {
          for (const char of chunk) {
            if (char === '\r' || char === '\n') return finish()
            if (char === '\u0003') return finish(new CcredError('ERR_USAGE', 'cancelled', { hint: 'nothing was stored' }))
            if (char === '\u0004' && answer === '') return finish()
            if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1)
            else answer += char
          }
        }
        stdin.on('data', onData)
      })
    },
    async readAll(maxBytes) {
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > maxBytes) throw new CcredError('ERR_USAGE', 'the input is larger than 64 KiB; it does not look like a secret', { hint: 'pipe only the secret' })
        chunks.push(chunk)
      }
      return Buffer.concat(chunks).toString('utf8')
    },
  }
}
