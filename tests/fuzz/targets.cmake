# The fuzz targets (tests/fuzz/<target>.cpp) and the room each one needs; shared by the
# libFuzzer build (tests/fuzz/CMakeLists.txt) and the corpus replay of `make test`
# (tests/fuzz/replay.cmake).
set(QODO_FUZZ_TARGETS
  chat_request:q_api
  events:q_qodo
  event_parser:q_qodo
  failure:q_qodo
  chinese_transform:q_qodo
  chat_body:q_qodo
  reasoning:q_qodo
  tokenizer:q_tokenizer
  config:q_config
  chunk:q_api
  command_frames:q_qodo
  user_query:q_qodo
  tool_sieve:q_qodo
)
