#!/usr/bin/env bash
# The toolchain-switch tests need a go command that switches toolchains (Go 1.21 or
# later); Debian 12's golang-go is 1.19. Installs Debian's golang-1.23-go from
# bookworm-backports into /usr/lib/go-1.23 (the default /usr/bin/go is left
# alone), using a private apt source list so the system's apt configuration is not
# changed. Nothing to do when some /usr/lib/go-1.N (N ≥ 21) or the go on PATH is
# new enough. With CI=true a missing prerequisite is a failure, never a skip.
set -euo pipefail
have_switching_go() {
  local g v
  for g in "$(command -v go || true)" /usr/lib/go-1.*/bin/go; do
    [ -x "$g" ] || continue
    v=$("$g" env GOVERSION 2>/dev/null || true)
    [[ "$v" =~ ^go1\.([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 21 ] && return 0
  done
  return 1
}
have_switching_go && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "prereqs: the toolchain-switch tests need Go >= 1.21 (e.g. Debian's golang-1.23-go from bookworm-backports)" >&2
  exit 1
fi
. /etc/os-release
suite="${VERSION_CODENAME:-bookworm}-backports"
apt_dir=$(mktemp -d)
chmod 755 "$apt_dir"  # apt downloads as _apt
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts"
cat >"$apt_dir/parts/goark.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME:-bookworm} ${suite}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
opts=(-o "Dir::Etc::SourceParts=$apt_dir/parts" -o "Dir::Etc::SourceList=/dev/null" -o "Dir::State::Lists=$apt_dir/lists")
echo "prereqs: installing golang-1.23-go from Debian's ${suite}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get "${opts[@]}" update -qq >/dev/null
apt-get "${opts[@]}" install -y -qq --no-install-recommends -t "$suite" golang-1.23-go >/dev/null
have_switching_go || {
  echo "prereqs: golang-1.23-go is required and could not be installed" >&2
  exit 1
}
