# tests/script_lib.sh — sourced by the tests/*.test.sh scripts that report like the C
# tests: one "PASS name" / "FAIL name" / "SKIP name: reason" line each (tests/run.sh
# counts them). fail's further arguments go to stderr as the reason, and mark the run
# failed ($failed), which the script returns as its exit status.
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; shift; for line in "$@"; do echo "  $line" >&2; done; failed=1; }
skip() { echo "SKIP $1: $2"; }
