# Turns a file into a C source defining a byte array and its length, so the
# browser page ships inside the binary (no files to install, no CDN).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR byte_len "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}" "/* generated from ${INPUT} by cmake/embed_file.cmake */\n#include <stddef.h>\n"
     "const unsigned char ${SYMBOL}[] = {${bytes} 0x00};\nconst size_t ${SYMBOL}_len = ${byte_len};\n")
