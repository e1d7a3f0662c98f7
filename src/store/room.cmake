target_link_libraries(q_store PUBLIC SQLite::SQLite3)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
target_link_libraries(q_store PUBLIC PkgConfig::HIREDIS)
