#!/usr/bin/env bash
# The Debian package as an operator installs it: `cpack -G DEB` from the build folder, then
# what dpkg-deb says is in it (binaries, units, sysusers, /etc example, logrotate, docs and
# --help pages; control fields, conffiles, maintainer scripts), the /etc example passes
# `ixctl config check` with the packaged ixctl, and `systemd-analyze verify` accepts the units.
#
#   package_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$work"/out/ixcluster_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$work/cpack.log"; fail "no ixcluster_*.deb in $work/out"; }
echo "package: $(basename "$deb") ($(du -h "$deb" | cut -f1))"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
for f in /usr/bin/ixnode /usr/bin/ixproxy /usr/bin/ixctl /usr/bin/ixsim /usr/bin/ixengage \
         /usr/lib/systemd/system/ixnode@.service /usr/lib/systemd/system/ixproxy@.service \
         /usr/lib/sysusers.d/ixcluster.conf /etc/ixcluster/cluster.toml /etc/ixcluster/ixnode@pair-1-backup.env \
         /etc/logrotate.d/ixcluster /usr/share/doc/ixcluster/deployment.md /usr/share/doc/ixcluster/configuration.md \
         /usr/share/doc/ixcluster/help/ixnode.txt /usr/share/doc/ixcluster/help/ixproxy.txt /usr/share/doc/ixcluster/help/ixctl.txt \
         /usr/share/ixcluster/prometheus/alerts.yml; do
  grep -qx "$f" "$work/contents" || { cat "$work/contents"; fail "$f is not in the package"; }
done
if grep -E '^/usr/(bin|lib)/.*(_test|_bench)' "$work/contents"; then fail "tests or benchmarks are packaged"; fi

dpkg-deb -I "$deb" >"$work/info"
grep -q '^ Package: ixcluster$' "$work/info" || { cat "$work/info"; fail "Package field"; }
grep -q '^ Version: ' "$work/info" || fail "Version field"
grep -q '^ Depends: .*libuv1' "$work/info" || { cat "$work/info"; fail "Depends (dpkg-shlibdeps) lacks libuv1"; }
grep -q '^ Depends: .*android-libboringssl' "$work/info" || { cat "$work/info"; fail "Depends lacks android-libboringssl (libssl, libcrypto)"; }
for control in conffiles postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$control( |$)" "$work/info" || { cat "$work/info"; fail "no $control"; }
done
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/ixcluster/cluster.toml "$work/control/conffiles" || fail "cluster.toml is not a conffile"
grep -q systemd-sysusers "$work/control/postinst" || fail "postinst does not create the user"

dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/ixctl" --version | grep -q '^ixctl ' || fail "the packaged ixctl does not run"
"$work/root/usr/bin/ixctl" config check "$work/root/etc/ixcluster/cluster.toml" || fail "the packaged /etc example is not valid"
grep -q -- '--log-file' "$work/root/usr/share/doc/ixcluster/help/ixnode.txt" || fail "ixnode's help page"
grep -q 'ixctl cluster up' "$work/root/usr/share/doc/ixcluster/help/ixctl.txt" || fail "ixctl's help page lacks its subcommands"

# systemd-analyze verify on an instance of each template. It checks the unit syntax, every
# directive's value and that the commands exist; the units name /usr/bin/ixnode, which is not
# installed here, so the copies verified point at the extracted package's binaries instead.
mkdir -p "$work/units"
sed "s|/usr/bin/|$work/root/usr/bin/|g" "$work/root/usr/lib/systemd/system/ixnode@.service" >"$work/units/ixnode@pair-1.service"
sed "s|/usr/bin/|$work/root/usr/bin/|g" "$work/root/usr/lib/systemd/system/ixproxy@.service" >"$work/units/ixproxy@proxy-1.service"
if ! systemd-analyze verify --man=no "$work/units/ixnode@pair-1.service" "$work/units/ixproxy@proxy-1.service" >"$work/verify.log" 2>&1; then
  cat "$work/verify.log"
  fail "systemd-analyze verify"
fi
if [ -s "$work/verify.log" ]; then
  cat "$work/verify.log"
  fail "systemd-analyze verify complained (above)"
fi
for option in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes User=ixcluster StateDirectory=ixcluster LimitNOFILE=; do
  grep -q "^$option" "$work/units/ixnode@pair-1.service" || fail "ixnode@.service lacks $option"
  [ "$option" = StateDirectory=ixcluster ] || grep -q "^$option" "$work/units/ixproxy@proxy-1.service" || fail "ixproxy@.service lacks $option"
done
echo "package: contents, control, /etc example and units check out"
