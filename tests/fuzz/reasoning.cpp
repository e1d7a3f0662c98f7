// qodo::ReasoningSplitter on an answer cut into arbitrary pieces gives exactly what it gives
// for the whole answer at once, which is (SPEC.md §7, reasoning_splitter.h):
//   - the answer, after any leading whitespace, opens with `<think>`: reasoning is every byte
//     between it and the first `</think>` (to the end when there is none), content is every
//     byte after that `</think>` minus its leading whitespace;
//   - otherwise: no reasoning, content is every byte of the answer, leading whitespace too;
//   - when hiding, the reasoning is dropped and the content is the same.
// So reasoning + content is the answer minus the tags and the whitespace around the opening
// tag and after the closing one, with every other byte kept, in order.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "qodo/reasoning_splitter.h"

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view skipSpace(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  return s;
}

qodo::ReasoningPieces reference(std::string_view answer, bool hide) {
  qodo::ReasoningPieces out;
  const std::string_view rest = skipSpace(answer);
  if (rest.substr(0, 7) != "<think>") {
    out.content = answer;
    return out;
  }
  const std::string_view body = rest.substr(7);
  const size_t close = body.find("</think>");
  if (!hide) out.reasoning = body.substr(0, close);
  if (close != std::string_view::npos) out.content = skipSpace(body.substr(close + 8));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t flags = in.byte();
  const bool hide = flags & 1;
  uint8_t cuts[8];
  for (uint8_t& c : cuts) c = in.byte() % 16;
  const std::string answer(in.rest());

  qodo::ReasoningSplitter splitter(hide);
  qodo::ReasoningPieces got;
  size_t offset = 0;
  for (size_t turn = 0; offset < answer.size(); ++turn) {
    // Pieces of 1..15 bytes, each in its own buffer so a held view into it would show; a
    // cut of 0 feeds an empty piece first.
    size_t n = cuts[turn % 8];
    if (n == 0) {
      const qodo::ReasoningPieces out = splitter.feed({});
      got.reasoning += out.reasoning;
      got.content += out.content;
      n = 1;
    }
    const std::string piece = answer.substr(offset, n);
    offset += piece.size();
    const qodo::ReasoningPieces out = splitter.feed(piece);
    if (hide) FUZZ_CHECK(out.reasoning.empty());
    got.reasoning += out.reasoning;
    got.content += out.content;
  }
  const qodo::ReasoningPieces last = splitter.flush();
  got.reasoning += last.reasoning;
  got.content += last.content;

  const qodo::ReasoningPieces want = reference(answer, hide);
  FUZZ_CHECK(got.reasoning == want.reasoning);
  FUZZ_CHECK(got.content == want.content);
  return 0;
}
