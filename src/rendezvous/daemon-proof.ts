import { readFileSync } from 'node:fs'
import { CcredError } from '../errors.js'

/**
 * The client checks that what answers at the rendezvous is this user's daemon before it sends
 * anything. Needed on Windows only: there the pipe's name is recorded in the user-only runtime
 * directory, but pipe names are one namespace for every user of the machine, so after the daemon
 * dies (crash, logoff, hard kill) its record stays and another user can serve that very name.
 * On Unix the socket itself lies in the checked 0700 directory: only the user (or root) can bind
 * there, and whoever can could read the key too, so a proof would add nothing but cost.
 *
 * The daemon writes a fresh random key (256 bits) into the runtime directory at each start
 * (0600, beside the pipe record, written before it). The client sends a random challenge and the
 * daemon answers HMAC-SHA256(key, challenge): the key never crosses the pipe, and an answer
 * cannot be replayed for another challenge. node:crypto is loaded only when a proof is checked,
 * so the Unix warm path pays nothing.
 */
export function daemonMustProveItself(os: NodeJS.Platform): boolean {
  return os === 'win32'
}

/** The header that carries the client's challenge on `GET /v1/hello`. */
export const CHALLENGE_HEADER = 'x-ccred-challenge'
const CHALLENGE = /^[0-9a-f]{32}$/
const KEY = /^[0-9a-f]{64}$/

export function isChallenge(text: unknown): text is string {
  return typeof text === 'string' && CHALLENGE.test(text)
}

/** What the daemon answers to `challenge`: HMAC-SHA256 under its key, hex. */
export async function proofFor(keyHex: string, challenge: string): Promise<string> {
  const { createHmac } = await import('node:crypto')
  return createHmac('sha256', Buffer.from(keyHex, 'hex')).update(`ccred daemon proof\n${challenge}`).digest('hex')
}

/** A new challenge and the proof only the holder of the key in `keyFile` can give for it; undefined when no key is recorded. */
export async function challengeFor(keyFile: string): Promise<{ challenge: string; expectedProof: string } | undefined> {
  let keyHex: string
  try {
    keyHex = readFileSync(keyFile, 'utf8').trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CcredError('ERR_DAEMON', `cannot read the daemon's key from ${keyFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error, hint: `check ${keyFile}, or run: ccred daemon stop` })
  }
  if (!KEY.test(keyHex)) throw new CcredError('ERR_DAEMON', `${keyFile} does not hold a ccred daemon key; refusing to connect`, { hint: `remove ${keyFile} (the daemon writes it again), then run: ccred daemon start` })
  const { randomBytes } = await import('node:crypto')
  const challenge = randomBytes(16).toString('hex')
  return { challenge, expectedProof: await proofFor(keyHex, challenge) }
}

/** What answered at the rendezvous did not prove it is this user's daemon: nothing was sent to it. */
export class DaemonNotProven extends CcredError {
  constructor(where: string) {
    super('ERR_DAEMON', `the process answering on ${where} did not prove it is your ccred daemon (it cannot show the key in your runtime directory); nothing was sent to it`, {
      hint: 'the daemon may have died and another process taken its name: run `ccred daemon start` (a new daemon picks a new name); if this persists, see who serves that pipe',
    })
  }
}
