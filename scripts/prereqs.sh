#!/usr/bin/env bash
# Makes sure the oracles the tests compare against are present: Debian's Go
# toolchain, Debian's golang.org/x/mod sources (with its zip test data) and git,
# plus what the direct-mode transport tests run: an sshd (openssh-server, with
# the ssh client and ssh-agent of openssh-client) and openssl for test
# certificates.
# Installs them with apt-get when run as root; otherwise says how. With CI=true a
# missing prerequisite is a failure, never a skip.
set -euo pipefail
XMOD_DIR=/usr/share/gocode/src/golang.org/x/mod
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d "$XMOD_DIR/zip/testdata" ] || missing+=(golang-golang-x-mod-dev)
command -v git >/dev/null 2>&1 || missing+=(git)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-agent >/dev/null 2>&1 || missing+=(openssh-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: installing ${missing[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "prereqs: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
command -v go >/dev/null && [ -d "$XMOD_DIR/zip/testdata" ] && command -v git >/dev/null &&
  [ -x /usr/sbin/sshd ] && command -v ssh-agent >/dev/null && command -v openssl >/dev/null || {
  echo "prereqs: golang-go, golang-golang-x-mod-dev, git, openssh-server, openssh-client and openssl are required and could not be installed" >&2
  exit 1
}
