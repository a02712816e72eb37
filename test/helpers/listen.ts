import { connect } from 'node:net'
import type { Server } from 'node:net'
import type { AddressInfo } from 'node:net'

/** Listens on an ephemeral loopback port and returns it: every test server stays on this machine. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return (server.address() as AddressInfo).port
}

/**
 * A loopback port on which a connection is refused at once, for "nothing listens there" cases.
 * Not an ephemeral port reserved by listen-then-close: another test file running at the same time
 * could be handed that port by listen(0) and answer on it. Ports below 1024 are outside the
 * ephemeral range, so no test server can take this one; it is checked once to be refused.
 */
export async function refusedLoopbackPort(): Promise<number> {
  const port = 9 // discard: no service on a test machine
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
  if (!refused) throw new Error(`something listens on 127.0.0.1:${port}; the "refused port" cases need it closed`)
  return port
}
