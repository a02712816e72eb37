/**
 * The standalone executable's entry (scripts/build-exe.mjs compiles it with Bun). The same
 * warm path as cmd/ccred.ts, but the full CLI is imported by a literal specifier so the
 * bundler puts it inside the executable; it is still evaluated only when the warm path
 * hands over, so a warm `get` pays for none of it. The npm bin stays cmd/ccred.ts.
 */
import { warmGet } from '../src/cli/warm-get.js'
import { directIo } from '../src/cli/io.js'
import { startDaemonInBackground } from '../src/client/autostart.js'

async function run(): Promise<number> {
  const args = process.argv.slice(2)
  const handled = await warmGet(args, directIo)
  if (handled !== undefined) return handled
  // A `get` the warm path handed over most often found no daemon: start it now, so its start-up
  // runs while this process loads the full CLI. The CLI's own autostart then finds it starting
  // (the spawn lock) or ready, and waits for its answer: one daemon, one upstream fetch.
  if (args[0] === 'get' && directIo.env.CCRED_NO_DAEMON !== '1') void startDaemonInBackground(directIo.env).catch(() => undefined)
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
  const { main } = await import('../src/cli/main.js')
  return main(process.argv)
}

void run().then((code) => { process.exitCode = code })
