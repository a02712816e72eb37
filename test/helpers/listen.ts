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
  // Privileged (no test server can bind it) and not on fetch's "bad ports" list (which 9 is: fetch
  // would refuse it before connecting, and the test would see "bad port" instead of a refusal).
  const port = 1023
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
  if (!refused) throw new Error(`something listens on 127.0.0.1:${port}; the "refused port" cases need it closed`)
  return port
}

/**
 * Under Wine (the Windows job, .ci/windows-wine.sh, sets CCRED_TEST_UNDER_WINE=1) a connect to a
 * loopback server fails now and then with `connect UNKNOWN`: tests that need one are skipped
 * there with this reason, and the job prints each as a wine-limit line. Everywhere else false:
 * they run (and Linux CI fails on any skip).
 */
export const loopbackTcpSkip: string | false = process.env.CCRED_TEST_UNDER_WINE === '1' && 'wine-limit: needs loopback TCP, which Wine does not provide reliably (connect UNKNOWN)'
