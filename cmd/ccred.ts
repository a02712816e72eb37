#!/usr/bin/env node
/**
 * The `ccred` entry. Claude Code runs `ccred get` every few minutes per session,
 * so the warm path (a plain `get` and a running daemon) is handled here without
 * loading commander or anything else. For speed, esbuild also bundles this file
 * with that path into dist/cmd/ccred.cjs, the package's bin: one CommonJS file
 * loads faster than a graph of ES modules. Everything else loads the full CLI.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { warmGet } from '../src/cli/warm-get.js'
import { directIo } from '../src/cli/io.js'

// dist/cmd/ in both forms: the bundle (CommonJS, __dirname) and tsc's output (ESM).
const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url))

async function run(): Promise<number> {
  const handled = await warmGet(process.argv.slice(2), directIo)
  if (handled !== undefined) return handled
  // A reader that goes away (`ccred status | head`) is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
  const { main } = (await import(pathToFileURL(join(here, '..', 'src', 'cli', 'main.js')).href)) as typeof import('../src/cli/main.js')
  return main(process.argv)
}

void run().then((code) => { process.exitCode = code })
