#!/bin/sh
# embed.sh FILE SYMBOL: print a C file defining SYMBOL (the bytes of FILE,
# NUL-terminated) and SYMBOL_len, so a text file can ship inside the binary.
set -e
printf '#include <stddef.h>\nconst char %s[] = {\n' "$2"
od -An -v -tx1 "$1" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
printf '0x00 };\nconst size_t %s_len = sizeof(%s) - 1;\n' "$2" "$2"
