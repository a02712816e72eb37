/**
 * The standalone executable's entry (scripts/build-exe.mjs compiles it with Bun). The same
 * warm path as cmd/ccred.ts, but the full CLI is imported by a literal specifier so the
 * bundler puts it inside the executable; it is still evaluated only when the warm path
 * hands over, so a warm `get` pays for none of it. The npm bin stays cmd/ccred.ts.
 */
import { warmGet } from '../src/cli/warm-get.js'
import { directIo } from '../src/cli/io.js'

async function run(): Promise<number> {
  const handled = await warmGet(process.argv.slice(2), directIo)
  if (handled !== undefined) return handled
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
  const { main } = await import('../src/cli/main.js')
  return main(process.argv)
}

void run().then((code) => { process.exitCode = code })
