// Checks one streamed OpenAI chat answer as its bytes arrive: every SSE event is valid
// `chat.completion.chunk` JSON, the content deltas add up to the expected text, `[DONE]` ends
// the stream and nothing follows it. Records when each non-empty content delta arrived, for the
// time to first token and the longest gap between tokens.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace streamload {

using Clock = std::chrono::steady_clock;

class SseCheck {
 public:
  // `expected`: the whole answer text, or nullopt to accept any text.
  explicit SseCheck(std::optional<std::string> expected) : expected_(std::move(expected)) {}

  // The next body bytes, read at `now`. Returns false once the stream is known to be bad.
  bool feed(std::string_view bytes, Clock::time_point now);
  // The body ended; returns true when the stream was complete and right.
  bool finish();

  const std::string& error() const { return error_; }
  std::optional<Clock::time_point> firstToken() const { return firstToken_; }
  Clock::duration longestGap() const { return longestGap_; }
  size_t tokens() const { return tokens_; }

 private:
  bool line(std::string_view text, Clock::time_point now);
  bool event(std::string_view data, Clock::time_point now);
  bool fail(std::string why);

  std::optional<std::string> expected_;
  std::string partial_;  // a line whose end has not arrived
  std::string data_;     // data: lines of the event being read
  bool inEvent_ = false;
  std::string text_;     // content deltas so far
  bool done_ = false;
  std::string error_;
  size_t tokens_ = 0;
  std::optional<Clock::time_point> firstToken_;
  Clock::time_point lastToken_{};
  Clock::duration longestGap_{};
};

}  // namespace streamload
