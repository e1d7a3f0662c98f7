find_package(OpenSSL REQUIRED)
target_link_libraries(q_accounts PUBLIC OpenSSL::Crypto)
