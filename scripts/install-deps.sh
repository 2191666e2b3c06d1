#!/usr/bin/env bash
# Install the Debian packages procmon needs to build, run and test, but only
# the ones missing, so `make run` on a prepared machine does not touch apt.
set -euo pipefail

packages=(
	make gcc clang pkg-config # toolchain; clang builds the BPF objects
	libbpf-dev bpftool libelf-dev zlib1g-dev # BPF loading, skeletons, vmlinux.h
	libssl-dev    # SHA-256 (OpenSSL EVP)
	libyaml-dev   # configuration
	libnats-dev   # fleet output: NATS JetStream client (nats.c)
	libzstd-dev   # fleet output: zstd-compressed batches and spool records
	libhyperscan-dev # detections: one multi-pattern prefilter over every Sigma rule's literals
	libpcre2-dev  # detections: Sigma's |re modifier
	libjson-c-dev # the compact format, procmon-tail and --replay's detections read events back as JSON
	libyajl-dev   # procmon --replay: event parser for recorded lines, no DOM (4x json-c, docs/detections.md)
	nats-server   # fleet tests: real JetStream servers on loopback ports
	libmicrohttpd-dev # metrics and health over HTTP
	libcmocka-dev # unit tests
	python3 python3-pytest # integration test driver
	python3-yaml  # Sigma tests and bench: a second reader of the rules' YAML
	python3-cryptography # fleet tests: Ed25519 NKeys and JWTs for a .creds file
	python3-zstandard # fleet tests: decode the zstd-compressed batches a message carries
	libcap2-bin   # setcap, for the FILE_CAPS test
	btrfs-progs   # a btrfs subvolume, for the hash identity test
	systemd       # systemd-analyze verify / security of procmon.service
	mandoc        # mandoc -Tlint of the man pages
	logrotate     # the fault tests and the shipped snippet, against a live procmon
	dpkg-dev      # make deb: dpkg-shlibdeps computes Depends:
	prometheus    # promtool check metrics (the server is kept from starting, below)
	lintian       # the package test: lintian on build/procmon_*.deb
	zstd          # fleet tests and docs: a consumer decompressing a batch by hand
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "procmon: missing packages: ${missing[*]} (run as root or install them)" >&2
	exit 1
fi
echo "procmon: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Only promtool is wanted from `prometheus`: no service may start from the
# install (policy-rc.d 101 = "action forbidden"), unless a policy exists.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# ... nor start at the next boot (the package enables its unit)
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
	systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
