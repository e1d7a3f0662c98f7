#include "sse_check.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace streamload {

namespace json = boost::json;

bool SseCheck::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool SseCheck::feed(std::string_view bytes, Clock::time_point now) {
  if (!error_.empty()) return false;
  while (!bytes.empty()) {
    const size_t end = bytes.find('\n');
    if (end == std::string_view::npos) {
      partial_.append(bytes);
      if (partial_.size() > 1024 * 1024) return fail("line over 1 MiB");
      return true;
    }
    bool ok;
    if (partial_.empty()) {
      ok = line(bytes.substr(0, end), now);
    } else {
      partial_.append(bytes.substr(0, end));
      ok = line(partial_, now);
      partial_.clear();
    }
    if (!ok) return false;
    bytes.remove_prefix(end + 1);
  }
  return true;
}

bool SseCheck::line(std::string_view text, Clock::time_point now) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.empty()) {  // the end of an event
    if (!inEvent_) return true;
    inEvent_ = false;
    const bool ok = event(data_, now);
    data_.clear();
    return ok;
  }
  if (text.front() == ':') return true;  // an SSE comment
  if (text.starts_with("data:")) {
    text.remove_prefix(5);
    if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (inEvent_) data_ += '\n';
    data_.append(text);
    inEvent_ = true;
    return true;
  }
  if (text.starts_with("event:") || text.starts_with("id:") || text.starts_with("retry:")) {
    return true;
  }
  return fail("not an SSE line: " + std::string(text.substr(0, 60)));
}

bool SseCheck::event(std::string_view data, Clock::time_point now) {
  if (done_) return fail("event after [DONE]");
  if (data == "[DONE]") {
    done_ = true;
    return true;
  }
  boost::system::error_code ec;
  const json::value value = json::parse(data, ec);
  if (ec || !value.is_object()) return fail("chunk is not a JSON object");
  const json::object& chunk = value.get_object();
  if (chunk.contains("error")) return fail("error event in the stream");
  const json::value* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return fail("chunk without choices");
  const json::value* object = chunk.if_contains("object");
  if (object == nullptr || !object->is_string() || object->get_string() != "chat.completion.chunk") {
    return fail("chunk object is not chat.completion.chunk");
  }
  for (const json::value& choice : choices->get_array()) {
    const json::object* c = choice.if_object();
    const json::value* delta = c ? c->if_contains("delta") : nullptr;
    if (delta == nullptr || !delta->is_object()) return fail("choice without delta");
    const json::value* content = delta->get_object().if_contains("content");
    if (content == nullptr || !content->is_string() || content->get_string().empty()) continue;
    text_.append(content->get_string());
    ++tokens_;
    if (firstToken_) {
      longestGap_ = std::max(longestGap_, now - lastToken_);
    } else {
      firstToken_ = now;
    }
    lastToken_ = now;
  }
  return true;
}

bool SseCheck::finish() {
  if (!error_.empty()) return false;
  if (!partial_.empty() || inEvent_) {
    // A last event without its blank line still counts (some servers end that way).
    if (!partial_.empty() && !line(partial_, lastToken_)) return false;
    if (inEvent_ && !event(data_, lastToken_)) return false;
    partial_.clear();
    inEvent_ = false;
  }
  if (!done_) return fail("stream ended without [DONE]");
  if (expected_ && text_ != *expected_) {
    return fail("text differs from the expected tokens (" + std::to_string(tokens_) +
                " content deltas, " + std::to_string(text_.size()) + " bytes)");
  }
  return true;
}

}  // namespace streamload
