#!/bin/sh
# Runs every unit-test binary, then prints one closing line with the totals.
pass=0; fail=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
    [ -z "$p" ] && p=0
    [ -z "$f" ] && f=1
    if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | grep -v '^ok ' ; echo "FAIL $t"
        [ "$f" -eq 0 ] && f=1
    fi
    pass=$((pass + p)); fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ]
