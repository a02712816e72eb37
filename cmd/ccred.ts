#!/usr/bin/env node
/**
 * Entry point. `ccred get` is the hot path (Claude Code runs it every few
 * minutes per session), so a plain `get` is parsed here without loading
 * commander; anything unusual (--help, a typo) goes to the full CLI, which
 * reports it properly.
 */
const args = process.argv.slice(2)
let exitCode: number | undefined
if (args[0] === 'get') {
  const { parseGetFastPath } = await import('../src/cli/get-fast-path.js')
  const parsed = parseGetFastPath(args.slice(1))
  if (parsed !== undefined) {
    const [{ runGet }, { processIo, reportError }] = await Promise.all([import('../src/cli/get.js'), import('../src/cli/io.js')])
    exitCode = await runGet(parsed.profile, parsed.options, processIo).catch((error: unknown) => reportError(processIo, error))
  }
}
if (exitCode === undefined) {
  const { main } = await import('../src/cli/main.js')
  exitCode = await main(process.argv)
}
process.exitCode = exitCode
