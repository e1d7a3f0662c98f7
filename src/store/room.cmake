target_link_libraries(q_store PUBLIC SQLite::SQLite3)
