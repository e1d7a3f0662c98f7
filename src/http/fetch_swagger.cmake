# cmake -P script run by room.cmake: makes ${DIR}/package/{swagger-ui-bundle.js,swagger-ui.css,
# LICENSE} from swagger-ui-dist-${VERSION}.tgz, fetched with npm only when ${DIR} does not hold
# it yet (or copied from ${TARBALL}), and whose SHA-256 must be ${SHA256}.
set(tarball ${DIR}/swagger-ui-dist-${VERSION}.tgz)
file(MAKE_DIRECTORY ${DIR})
set(have "")
if(EXISTS ${tarball})
  file(SHA256 ${tarball} have)
endif()
if(NOT have STREQUAL SHA256)
  if(TARBALL)
    file(COPY_FILE ${TARBALL} ${tarball})
  else()
    if(NOT NPM)
      message(FATAL_ERROR "web: npm is needed once to fetch swagger-ui-dist@${VERSION} "
                          "(or pass -DQODO_SWAGGER_TARBALL=<swagger-ui-dist-${VERSION}.tgz>)")
    endif()
    message(STATUS "web: fetching swagger-ui-dist@${VERSION} with npm")
    execute_process(
      COMMAND ${NPM} pack swagger-ui-dist@${VERSION} --pack-destination ${DIR} --silent
      WORKING_DIRECTORY ${DIR}
      RESULT_VARIABLE result
      OUTPUT_VARIABLE output
      ERROR_VARIABLE output)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "web: `npm pack swagger-ui-dist@${VERSION}` failed:\n${output}")
    endif()
  endif()
  file(SHA256 ${tarball} have)
  if(NOT have STREQUAL SHA256)
    file(REMOVE ${tarball})
    message(FATAL_ERROR "web: swagger-ui-dist-${VERSION}.tgz has SHA-256 '${have}' but "
                        "'${SHA256}' is pinned in src/http/room.cmake; refusing to embed it.")
  endif()
endif()
file(REMOVE_RECURSE ${DIR}/package)
file(ARCHIVE_EXTRACT INPUT ${tarball} DESTINATION ${DIR}
     PATTERNS package/swagger-ui-bundle.js package/swagger-ui.css package/LICENSE)
