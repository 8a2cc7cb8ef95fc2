# Sourced by Tests/Autobahn/install and Tests/Autobahn/run: where the Python 2.7 prefix is,
# how to run programs from it, and how to tell that wstest there works.
#
# The prefix is a Debian python2.7 unpacked with `dpkg -x`, so everything sits under
# $AB_PREFIX/usr; its shared libraries (libssl1.1, libffi7, libpython2.7) are not on the
# system's library path, hence LD_LIBRARY_PATH.

AB_PREFIX=${PREFIX:-/opt/py27}
AB_SUITE_VERSION=25.10.1      # autobahntestsuite on PyPI: the last release, Python 2.7 only
AB_MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
AB_PY="$AB_PREFIX/usr/bin/python2.7"
AB_WSTEST="$AB_PREFIX/usr/bin/wstest"

# Puts the prefix's programs and libraries first (in this shell and its children).
ab_use_prefix() {
  export PATH="$AB_PREFIX/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$AB_PREFIX/usr/lib/$AB_MULTIARCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# True when the prefix's wstest starts and reports the expected version (takes ~0.5 s).
ab_wstest_ready() {
  [ -x "$AB_WSTEST" ] || return 1
  ( ab_use_prefix; timeout 60 wstest -a 2>/dev/null ) |
    grep -x "AutobahnTestSuite $AB_SUITE_VERSION" >/dev/null
}
