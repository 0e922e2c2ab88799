#!/bin/sh
# What help2man runs in place of $TASKMILL_PROGRAM: the program's own --help,
# with each further usage line ("       taskmill drain ...") marked "  or: "
# as help2man expects, so that it lands in SYNOPSIS and not in DESCRIPTION.
# Everything else is the program's output, unchanged.
set -eu
program=${TASKMILL_PROGRAM:?the program to describe}
name=$(basename "$program")
if [ "${1:-}" = --help ]; then
    "$program" --help | sed "1,/^\$/ s/^ \{2,\}\($name \)/  or: \1/"
else
    exec "$program" "$@"
fi
