# upstream/ speaks HTTP to the backend through libcurl (found at the top level).
target_link_libraries(q_upstream PUBLIC CURL::libcurl)
