# cmake -P script run by room.cmake: makes ${DIR}/package/encoders/{cl100k,o200k}_base.json
# from tiktoken-${VERSION}.tgz, which it fetches with npm only when ${DIR} does not hold it yet
# (or copies from ${TARBALL}), and whose SHA-256 must be ${SHA256}.
set(tarball ${DIR}/tiktoken-${VERSION}.tgz)
file(MAKE_DIRECTORY ${DIR})

function(sha256_of path out)
  if(EXISTS ${path})
    file(SHA256 ${path} hash)
  else()
    set(hash "")
  endif()
  set(${out} "${hash}" PARENT_SCOPE)
endfunction()

sha256_of(${tarball} have)
if(NOT have STREQUAL SHA256)
  if(TARBALL)
    message(STATUS "tokenizer: using ${TARBALL}")
    file(COPY_FILE ${TARBALL} ${tarball})
  else()
    if(NOT NPM)
      message(FATAL_ERROR "tokenizer: npm is needed once to fetch tiktoken@${VERSION} "
                          "(or pass -DQODO_TIKTOKEN_TARBALL=<tiktoken-${VERSION}.tgz>)")
    endif()
    message(STATUS "tokenizer: fetching tiktoken@${VERSION} with npm")
    execute_process(
      COMMAND ${NPM} pack tiktoken@${VERSION} --pack-destination ${DIR} --silent
      WORKING_DIRECTORY ${DIR}
      RESULT_VARIABLE result
      OUTPUT_VARIABLE output
      ERROR_VARIABLE output)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "tokenizer: `npm pack tiktoken@${VERSION}` failed:\n${output}")
    endif()
  endif()
  sha256_of(${tarball} have)
  if(NOT have STREQUAL SHA256)
    file(REMOVE ${tarball})
    message(FATAL_ERROR
      "tokenizer: tiktoken-${VERSION}.tgz has SHA-256 '${have}' but '${SHA256}' is pinned in "
      "src/tokenizer/room.cmake. The package is not the one the tokenizer was verified with; "
      "refusing to embed it.")
  endif()
endif()

file(REMOVE_RECURSE ${DIR}/package)
file(ARCHIVE_EXTRACT INPUT ${tarball} DESTINATION ${DIR}
     PATTERNS package/encoders/cl100k_base.json package/encoders/o200k_base.json)
