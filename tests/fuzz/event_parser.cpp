// qodo::EventParser's two paths on any line: the fast scanner (scanTextEvent) answers only
// when it is sure, and then exactly what the Boost.JSON path (parseWithDom, the reference)
// answers; parse() gives the scanner's answer or the reference's. The line is its own heap
// copy, so ASan sees any text that points outside it.
#include "qodo/event_parser.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static qodo::EventParser parser;  // reused, as the relay reuses one per stream
  const std::string line(reinterpret_cast<const char*>(data), size);
  std::string scratch;
  const auto fast = qodo::scanTextEvent(line, scratch);
  const qodo::Event dom = parser.parseWithDom(line);
  const std::string domText(dom.text);
  if (fast) {
    FUZZ_CHECK(fast->kind == qodo::EventKind::kText);
    FUZZ_CHECK(dom.kind == fast->kind);
    FUZZ_CHECK(domText == fast->text);
  }
  const qodo::Event event = parser.parse(line);
  FUZZ_CHECK(event.kind == dom.kind);
  FUZZ_CHECK(std::string(event.text) == domText);
  if (event.kind == qodo::EventKind::kText || event.kind == qodo::EventKind::kError) {
    FUZZ_CHECK(fuzz::validUtf8(event.text));
  }
  return 0;
}
