# `make test` replays every committed fuzz corpus with the normal compiler: each target's
# LLVMFuzzerTestOneInput linked with a small main() (replay_main.cpp) that feeds it every
# file of tests/fuzz/corpus/<target>/. Included from tests/CMakeLists.txt.
include(${PROJECT_SOURCE_DIR}/tests/fuzz/targets.cmake)
foreach(entry IN LISTS QODO_FUZZ_TARGETS)
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 target)
  list(GET parts 1 room)
  add_executable(fuzz-replay-${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/${target}.cpp
                                       ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
  target_link_libraries(fuzz-replay-${target} PRIVATE ${room})
  if(QODO_FUZZ)  # the rooms carry libFuzzer's coverage and ASan there
    target_link_options(fuzz-replay-${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endif()
  add_test(NAME fuzz-replay.${target}
           COMMAND fuzz-replay-${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${target})
  set_tests_properties(fuzz-replay.${target} PROPERTIES LABELS fuzz)
endforeach()
