// qodo::LineSplitter + qodo::EventParser on a backend body cut into arbitrary reads. The
// splitter's lines must be exactly those a one-shot reference split of the whole body gives
// (same lines, same end: [DONE], end of body, or a line over the bound), no line is ever
// longer than the bound, and every line goes through the event parser without a crash.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "qodo/event_parser.h"
#include "qodo/line_splitter.h"

namespace {

using qodo::LineSplitter;

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

struct Outcome {
  std::vector<std::string> lines;
  LineSplitter::Status end = LineSplitter::Status::kNeedMore;
};

// SPEC.md §4's reading of a whole body: raw lines end at '\n'; a raw line (without its '\n')
// longer than the bound ends the body as an error; blank lines and `:` comments are skipped;
// `data:` is stripped; `[DONE]` ends the body.
Outcome reference(std::string_view body, size_t bound) {
  Outcome out;
  while (true) {
    const size_t nl = body.find('\n');
    const std::string_view raw = body.substr(0, nl);
    if (raw.size() > bound) {
      out.end = LineSplitter::Status::kLineTooLong;
      return out;
    }
    if (nl == std::string_view::npos && raw.empty()) break;
    std::string_view line = trim(raw);
    const bool comment = !line.empty() && line.front() == ':';
    if (!comment && line.substr(0, 5) == "data:") line = trim(line.substr(5));
    if (!comment && !line.empty()) {
      if (line == "[DONE]") break;
      out.lines.emplace_back(line);
    }
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  out.end = LineSplitter::Status::kDone;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const size_t bound = 1 + in.byte() % 64;  // small, so the fuzzer reaches it
  std::vector<size_t> reads;
  for (int i = 0; i < 8; ++i) reads.push_back(in.byte() % 24);
  const std::string body(in.rest());

  LineSplitter splitter(bound);
  static qodo::EventParser parser;  // reused across inputs, as the relay reuses it per stream
  Outcome got;
  size_t offset = 0;
  size_t turn = 0;
  // Each read is copied into its own buffer, which is freed as soon as the splitter asks for
  // more: ASan then catches any line that still points into an earlier read.
  std::string chunk;
  bool fed_all = false;
  while (got.end == LineSplitter::Status::kNeedMore) {
    const LineSplitter::Next next = splitter.next();
    if (next.status == LineSplitter::Status::kLine) {
      FUZZ_CHECK(!next.line.empty());
      FUZZ_CHECK(next.line.size() <= bound);
      FUZZ_CHECK(next.line.find('\n') == std::string_view::npos);
      got.lines.emplace_back(next.line);
      const qodo::Event event = parser.parse(next.line);
      FUZZ_CHECK(event.kind == qodo::EventKind::kText || event.kind == qodo::EventKind::kError ||
                 event.kind == qodo::EventKind::kOther || event.kind == qodo::EventKind::kNotJson);
      if (event.kind == qodo::EventKind::kNotJson) FUZZ_CHECK(event.text.empty());
      // The event parser accepts only objects: a line that is not '{'-led JSON is kNotJson.
      if (next.line.front() != '{') FUZZ_CHECK(event.kind == qodo::EventKind::kNotJson);
      if (event.kind != qodo::EventKind::kNotJson) {
        const auto json = fuzz::parseJson(next.line);
        FUZZ_CHECK(json && json->is_object());
        FUZZ_CHECK(fuzz::validUtf8(event.text));
      }
      continue;
    }
    if (next.status != LineSplitter::Status::kNeedMore) {
      got.end = next.status;
      break;
    }
    if (fed_all) {
      splitter.finish();
      continue;
    }
    const size_t n = std::min(body.size() - offset, reads[turn++ % reads.size()] + 1);
    chunk.assign(body, offset, n);
    chunk.shrink_to_fit();
    offset += n;
    splitter.feed(chunk);
    if (offset == body.size()) fed_all = true;
    if (n == 0) splitter.finish();
  }

  const Outcome want = reference(body, bound);
  FUZZ_CHECK(got.end == want.end);
  // Also when a line is over the bound: every line before it was handed out first.
  FUZZ_CHECK(got.lines == want.lines);
  // The end is final.
  FUZZ_CHECK(splitter.next().status == got.end);
  return 0;
}
