#!/usr/bin/env bash
# The Debian packages the tests need beside .venv. `make test` and .ci/run call this first: it is
# silent when all are there, installs what is missing when run as root, and otherwise names what is
# missing and the one command that installs it.
set -euo pipefail

# postgresql: the second database .ci/run tests on; docker-compose: the compose file's check;
# redis-server: the real broker in the pipeline tests; fluidsynth and its GM soundfont render MIDI;
# chromium: the browser the portal tests drive (through Playwright, as executable_path); ffmpeg: the
# codecs bench/watermark.py attacks the audio watermark with (MP3, Ogg Vorbis, AAC).
packages=(postgresql docker-compose redis-server fluidsynth fluid-soundfont-gm chromium ffmpeg)

if ! command -v dpkg-query >/dev/null 2>&1; then
  # Not Debian: the names above may differ, so say what is needed and let the tests speak for themselves.
  echo "$0: not a Debian system; the tests need ${packages[*]} and npm, installed by other means." >&2
  exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
  # `dpkg -s` also succeeds for a removed package whose config files remain, so ask for the state.
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
done
# Node (for the Solidity compiler and the IPFS daemon) may come from elsewhere than Debian, npm with it.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these system packages, missing here: ${missing[*]}." >&2
  echo "Install them (as root, with apt-get) by running:  sudo $0" >&2
  exit 1
fi

echo "$0: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
