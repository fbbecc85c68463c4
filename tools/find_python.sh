#!/usr/bin/env bash
# Prints the Python interpreter `make install` builds the venv with: the one asked for if MXNet
# 1.9.1's pins install on it, else the newest supported python3.X on PATH. Otherwise one line
# on stderr and exit 1. MXNet 1.9.1 needs numpy < 1.24, whose wheels stop at Python 3.11, and
# the pinned matplotlib (3.10.x) needs 3.10 or newer.
# Usage: tools/find_python.sh [REQUESTED]   (REQUESTED: a name on PATH or a path; default python3)
SUPPORTED="3.11 3.10"  # newest first

version_of() {  # "3.11" for an interpreter that runs, nothing otherwise
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

supported() {
    local v
    for v in $SUPPORTED; do [ "$1" = "$v" ] && return 0; done
    return 1
}

requested=${1:-python3}
found="$requested: no such interpreter"
if path=$(command -v "$requested" 2>/dev/null); then
    version=$(version_of "$path")
    if [ -n "$version" ] && supported "$version"; then
        echo "$path"
        exit 0
    fi
    found="$requested: ${version:+Python }${version:-does not run}"
fi
for v in $SUPPORTED; do
    if path=$(command -v "python$v" 2>/dev/null) && [ "$(version_of "$path")" = "$v" ]; then
        echo "using $path (Python $v), since MXNet 1.9.1's pins do not install on $found" >&2
        echo "$path"
        exit 0
    fi
done
echo "error: make install needs Python ${SUPPORTED// / or } (MXNet 1.9.1 needs numpy < 1.24, which stops at 3.11); found $found, and no python3.11 or python3.10 on PATH; install one and pass it: make install PYTHON=/path/to/python3.11" >&2
exit 1
