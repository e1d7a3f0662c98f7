#include "qodo/line_splitter.h"

namespace qodo {
namespace {

constexpr std::string_view kDone = "[DONE]";

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

LineSplitter::LineSplitter(size_t maxLineBytes) : maxLineBytes_(maxLineBytes) {}

void LineSplitter::feed(std::string_view bytes) {
  // Bytes left from an earlier feed were never handed out; keep them ahead of the new ones.
  if (!input_.empty()) {
    partial_.append(input_);
    input_ = {};
  }
  input_ = bytes;
}

void LineSplitter::finish() { finished_ = true; }

LineSplitter::Next LineSplitter::fail() {
  final_ = Status::kLineTooLong;
  input_ = {};
  partial_.clear();
  partial_.shrink_to_fit();
  joined_.clear();
  joined_.shrink_to_fit();
  return {final_, {}};
}

bool LineSplitter::extract(std::string_view raw, std::string_view& line) {
  line = trim(raw);
  if (!line.empty() && line.front() == ':') return false;  // SSE comment, e.g. a keep-alive
  if (line.size() >= 5 && line.substr(0, 5) == "data:") line = trim(line.substr(5));
  return !line.empty();
}

LineSplitter::Next LineSplitter::next() {
  if (final_ != Status::kNeedMore) return {final_, {}};
  while (true) {
    std::string_view raw;
    const size_t end = input_.find('\n');
    if (end != std::string_view::npos) {
      const std::string_view piece = input_.substr(0, end);
      input_.remove_prefix(end + 1);
      if (partial_.size() + piece.size() > maxLineBytes_) return fail();
      if (partial_.empty()) {
        raw = piece;
      } else {
        partial_.append(piece);
        joined_.swap(partial_);
        partial_.clear();
        raw = joined_;
      }
    } else {
      if (partial_.size() + input_.size() > maxLineBytes_) return fail();
      partial_.append(input_);
      input_ = {};
      if (!finished_) return {Status::kNeedMore, {}};
      if (partial_.empty()) {
        final_ = Status::kDone;
        return {final_, {}};
      }
      joined_.swap(partial_);
      partial_.clear();
      raw = joined_;
    }
    std::string_view line;
    if (!extract(raw, line)) continue;
    if (line == kDone) {
      final_ = Status::kDone;
      return {final_, {}};
    }
    return {Status::kLine, line};
  }
}

}  // namespace qodo
