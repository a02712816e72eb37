/**
 * The standalone executables ccred is built for: our name (the npm package suffix,
 * `process.platform`-`process.arch`), Bun's compile target, and the prebuilt
 * @napi-rs/keyring package whose `.node` goes inside. Shared by build-exe, pack-exe
 * and release so the list lives in one place.
 */
export const EXE_TARGETS = [
  { name: 'linux-x64', os: 'linux', cpu: 'x64', bun: 'bun-linux-x64', keyring: 'linux-x64-gnu', file: 'ccred' },
  { name: 'linux-arm64', os: 'linux', cpu: 'arm64', bun: 'bun-linux-arm64', keyring: 'linux-arm64-gnu', file: 'ccred' },
  { name: 'darwin-x64', os: 'darwin', cpu: 'x64', bun: 'bun-darwin-x64', keyring: 'darwin-x64', file: 'ccred' },
  { name: 'darwin-arm64', os: 'darwin', cpu: 'arm64', bun: 'bun-darwin-arm64', keyring: 'darwin-arm64', file: 'ccred' },
  { name: 'win32-x64', os: 'win32', cpu: 'x64', bun: 'bun-windows-x64', keyring: 'win32-x64-msvc', file: 'ccred.exe' },
]

/** dist/exe/<this> is the executable for a target. */
export function exeFileName(target) {
  return target.os === 'win32' ? `ccred-${target.name}.exe` : `ccred-${target.name}`
}
