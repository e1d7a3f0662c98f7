# The tokenizer's BPE rank tables come from the npm package tiktoken (DESIGN.md, Stack): fetched
# once into the build tree, checked against a pinned SHA-256, converted by
# scripts/tokenizer/convert-ranks.mjs into a generated source and compiled in, so the binary
# needs no files at run time. Offline builds: pass -DQODO_TIKTOKEN_TARBALL=<path to the .tgz>.
set(QODO_TIKTOKEN_VERSION 1.0.22)
set(QODO_TIKTOKEN_SHA256 55c339e756fdb17604f7c7e3eb35d2bcbffe4d960e8096e50285d1cefa51dd90)
set(QODO_TIKTOKEN_TARBALL "" CACHE FILEPATH
    "tiktoken-${QODO_TIKTOKEN_VERSION}.tgz to use instead of fetching it with npm")

find_program(QODO_NODE_PROGRAM node REQUIRED)
find_program(QODO_NPM_PROGRAM npm)
set(tokenizer_data_dir ${CMAKE_BINARY_DIR}/tokenizer-data)
set(tokenizer_rank_source ${tokenizer_data_dir}/rank_data.cpp)

add_custom_command(
  OUTPUT ${tokenizer_rank_source}
  COMMAND ${CMAKE_COMMAND}
          -DVERSION=${QODO_TIKTOKEN_VERSION}
          -DSHA256=${QODO_TIKTOKEN_SHA256}
          -DDIR=${tokenizer_data_dir}
          -DNPM=${QODO_NPM_PROGRAM}
          -DTARBALL=${QODO_TIKTOKEN_TARBALL}
          -P ${PROJECT_SOURCE_DIR}/src/tokenizer/fetch_ranks.cmake
  COMMAND ${QODO_NODE_PROGRAM} ${PROJECT_SOURCE_DIR}/scripts/tokenizer/convert-ranks.mjs
          ${tokenizer_data_dir}/package ${tokenizer_rank_source}
  DEPENDS ${PROJECT_SOURCE_DIR}/src/tokenizer/fetch_ranks.cmake
          ${PROJECT_SOURCE_DIR}/scripts/tokenizer/convert-ranks.mjs
  COMMENT "Embedding the BPE ranks of tiktoken ${QODO_TIKTOKEN_VERSION}"
  VERBATIM)

target_sources(q_tokenizer PRIVATE ${tokenizer_rank_source})
# The generated source is one big string literal: no optimisation or debug info to speak of.
set_source_files_properties(${tokenizer_rank_source} PROPERTIES COMPILE_OPTIONS "-O0;-g0")
target_link_libraries(q_tokenizer PUBLIC PkgConfig::PCRE2)

# The hand-written pre-tokenizer's character classes, asked of PCRE2 itself at build time
# (src/tokenizer/generator/char_classes.cpp), so it reads the patterns' classes exactly as the
# regex engine does.
add_executable(char_classes_gen ${PROJECT_SOURCE_DIR}/src/tokenizer/generator/char_classes.cpp
                                ${PROJECT_SOURCE_DIR}/src/tokenizer/utf8.cpp)
target_include_directories(char_classes_gen PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(char_classes_gen PRIVATE PkgConfig::PCRE2)
set(tokenizer_classes_source ${tokenizer_data_dir}/char_classes.cpp)
add_custom_command(
  OUTPUT ${tokenizer_classes_source}
  COMMAND char_classes_gen ${tokenizer_classes_source}
  DEPENDS char_classes_gen
  COMMENT "Generating the pre-tokenizer's character classes from PCRE2"
  VERBATIM)
target_sources(q_tokenizer PRIVATE ${tokenizer_classes_source})
