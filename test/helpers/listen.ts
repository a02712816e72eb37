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
