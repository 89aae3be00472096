#!/usr/bin/env bash
# Fetch Julia 1.5.3 (Debian bullseye) and the libraries this machine lacks, unpack them under
# <repo>/.cache/julia, and write the launcher <repo>/.cache/julia/bin/julia.
#
# * Nothing is installed system-wide and the system apt/dpkg state is only read: apt runs on a
#   private sources list, private package lists and a private cache under .cache/julia-apt.
# * Which packages to fetch is decided by apt's resolver against the installed packages
#   (bullseye for julia itself, this system's release for ordinary dependencies), so a bare
#   Debian machine gets everything it misses and a full one gets only julia's private libraries.
# * Idempotent: when the launcher already runs, the script says so and exits 0.
# * On failure it prints one line (with the log file) and exits 1.
#
# Environment: CELLWAK_JULIA_DEST (default <repo>/.cache/julia; e.g. ~/.cache/cellwak/julia for an
# installed wheel, where cellwak also looks), CELLWAK_DEBIAN_MIRROR (default
# http://deb.debian.org/debian; bullseye falls back to http://archive.debian.org/debian).
# The launcher puts the unpacked libraries on LD_LIBRARY_PATH, which programs started from
# Julia inherit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${CELLWAK_JULIA_DEST:-$REPO/.cache/julia}"
WORK="$DEST-apt"
LAUNCHER="$DEST/bin/julia"
LOG="$DEST-install.log"
MIRROR="${CELLWAK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "install_julia: $1 (log: $LOG)" >&2; exit 1; }

if [ -x "$LAUNCHER" ] && "$LAUNCHER" --startup-file=no -e 'VERSION >= v"1.5" || exit(1)' >/dev/null 2>&1; then
    echo "julia already installed: $LAUNCHER"
    exit 0
fi

mkdir -p "$(dirname "$DEST")"
: >"$LOG"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs a Debian system with apt-get and dpkg-deb"
[ -r "$KEYRING" ] || die "Debian archive keyring $KEYRING is missing (apt-get install debian-archive-keyring)"

# This system's own release supplies the ordinary dependencies (libgfortran5, libgmp10, ...).
HOST_SUITE="$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)"
[ -n "$HOST_SUITE" ] || HOST_SUITE=bookworm

rm -rf "$WORK"
mkdir -p "$WORK"/{lists/partial,cache/archives/partial,parts,prefs,debs}
: >"$WORK/empty-prefs"

apt_opts() {
    # $1: the sources.list to use
    echo -o "Dir::Etc::SourceList=$1" -o "Dir::Etc::SourceParts=$WORK/parts" \
         -o "Dir::Etc::Preferences=$WORK/empty-prefs" -o "Dir::Etc::PreferencesParts=$WORK/prefs" \
         -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" \
         -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -o "Acquire::Retries=1" \
         -o "Acquire::http::Timeout=20" \
         -o "APT::Get::List-Cleanup=0" -o "Acquire::Languages=none"
}

fetch_lists() {
    # $1: mirror for bullseye
    cat >"$WORK/sources.list" <<EOF
deb [signed-by=$KEYRING] $1 bullseye main
deb [signed-by=$KEYRING] $MIRROR $HOST_SUITE main
EOF
    # shellcheck disable=SC2046
    apt-get $(apt_opts "$WORK/sources.list") -q --error-on=any update >>"$LOG" 2>&1
}

if ! fetch_lists "$MIRROR"; then
    echo "retrying bullseye from archive.debian.org" >>"$LOG"
    fetch_lists "http://archive.debian.org/debian" || die "cannot fetch Debian package lists from $MIRROR"
fi
OPTS="$(apt_opts "$WORK/sources.list")"

# Resolve julia's dependencies against what this system already has (read-only simulation).
# shellcheck disable=SC2086
apt-get $OPTS -s -q --no-install-recommends install julia=1.5.3+dfsg-3 >"$WORK/plan.txt" 2>>"$LOG" \
    || die "apt cannot resolve julia 1.5.3 from bullseye on this system"
PLAN="$(awk '/^Inst /{print $2}' "$WORK/plan.txt")"
[ -n "$PLAN" ] || die "apt planned no packages for julia"
# Libraries Julia 1.5 binds closely to are taken from bullseye even when this system has newer
# ones (with bookworm's libunwind 1.6 every thrown exception segfaults). They only need libc6,
# liblzma5 and libgmp10, which every Debian system has.
PINNED="libunwind8 libgmp10 libmpfr6 libpcre2-8-0 libutf8proc2"
PKGS=""
for p in $PLAN; do
    case " $PINNED " in *" $p "*) ;; *) PKGS="$PKGS $p" ;; esac
done
for p in $PINNED; do PKGS="$PKGS $p/bullseye"; done
echo "packages:$PKGS" >>"$LOG"

# shellcheck disable=SC2086
(cd "$WORK/debs" && apt-get $OPTS -q download $PKGS >>"$LOG" 2>&1) || die "cannot download the julia packages"

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
for deb in "$WORK"/debs/*.deb; do
    dpkg-deb -x "$deb" "$DEST.tmp" >>"$LOG" 2>&1 || die "cannot unpack $(basename "$deb")"
done

LIBJULIA="$(ls "$DEST.tmp"/usr/lib/*/libjulia.so.1 2>/dev/null | head -n1)"
[ -n "$LIBJULIA" ] || die "the unpacked packages hold no libjulia.so.1"
LIBDIR="$(dirname "$LIBJULIA")"
TRIPLET="$(basename "$LIBDIR")"

# Julia's private lib folder links to system libraries relatively (../libgmp.so.10); point the
# ones this cache does not hold at the system copies.
for link in "$LIBDIR"/julia/*; do
    [ -L "$link" ] && [ ! -e "$link" ] || continue
    target="$(basename "$(readlink "$link")")"
    found=""
    for dir in "/usr/lib/$TRIPLET" "/lib/$TRIPLET" /usr/lib /lib; do
        if [ -e "$dir/$target" ]; then found="$dir/$target"; break; fi
    done
    [ -n "$found" ] || die "system library $target (needed by julia) is missing"
    ln -sf "$found" "$link"
done

mkdir -p "$DEST.tmp/bin"
cat >"$DEST.tmp/bin/julia" <<EOF
#!/bin/sh
# Launcher for the Julia 1.5.3 unpacked by julia/install_julia.sh: sets the library path.
here="\$(cd "\$(dirname "\$0")/.." && pwd)"
LD_LIBRARY_PATH="\$here/usr/lib/$TRIPLET:\$here/usr/lib/$TRIPLET/julia\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
: "\${JULIA_DEPOT_PATH:=\$here/depot}"
export JULIA_DEPOT_PATH
exec "\$here/usr/bin/julia" "\$@"
EOF
chmod +x "$DEST.tmp/bin/julia"

rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
rm -rf "$WORK"

"$LAUNCHER" --startup-file=no -e 'using LinearAlgebra, SparseArrays, Random, Statistics; x = rand(3, 3) * rand(3, 3); println("julia ", VERSION, " ok")' \
    >>"$LOG" 2>&1 || die "julia was unpacked but does not start"
echo "julia installed: $LAUNCHER"
