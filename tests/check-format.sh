#!/bin/sh
# Fails when any of our C sources differs from .clang-format (GTK style).
set -eu
cd "$1"
files=$(git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^build' || true)
[ -n "$files" ] || files=$(find proto net media call server cli app ui tests bench fuzz -name '*.[ch]')
clang-format --dry-run -Werror $files
