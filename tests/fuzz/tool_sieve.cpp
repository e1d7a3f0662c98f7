// qodo::ToolSieve on any answer (the input after its first byte, cut at '\x1e' into the pieces
// the backend delivered; the first byte choosing parallel calls and the text or reasoning
// channel): never crashes, keeps the event contract (calls begin, get one JSON-object argument
// text and end, with fresh indexes, only for declared tools; no empty text; one end, last), and
// comes out the same however the answer was cut: fed whole, it gives the same text and calls.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "qodo/tool_sieve.h"

namespace {

using conversation::EventKind;

struct Checker : conversation::EventSink {
  std::string text;
  std::vector<std::string> calls;
  bool inCall = false;
  bool sawArguments = false;
  bool over = false;
  size_t nextIndex = 0;

  void onEvent(const conversation::Event& e) override {
    FUZZ_CHECK(!over);
    switch (e.kind) {
      case EventKind::kText:
      case EventKind::kReasoning:
        FUZZ_CHECK(!inCall && !e.text.empty());
        text += e.text;
        return;
      case EventKind::kToolCallBegin:
        FUZZ_CHECK(!inCall && e.index == nextIndex);
        FUZZ_CHECK(e.text == "get_weather" || e.text == "f");
        ++nextIndex;
        inCall = true;
        sawArguments = false;
        calls.emplace_back(e.text);
        return;
      case EventKind::kToolCallArguments: {
        FUZZ_CHECK(inCall && !sawArguments && e.index + 1 == nextIndex);
        const auto json = fuzz::parseJson(e.text);
        FUZZ_CHECK(!fuzz::validUtf8(e.text) || (json && json->is_object()));
        sawArguments = true;
        calls.back() += ' ';
        calls.back() += e.text;
        return;
      }
      case EventKind::kToolCallEnd:
        FUZZ_CHECK(inCall && sawArguments && e.index + 1 == nextIndex);
        inCall = false;
        return;
      case EventKind::kEnd:
        FUZZ_CHECK(!inCall);
        over = true;
        return;
      case EventKind::kFailure:
        FUZZ_CHECK(false);
    }
  }
};

const std::vector<conversation::Tool>& tools() {
  static const std::vector<conversation::Tool> declared = {
      {"get_weather", "",
       R"({"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}}})"},
      {"f", "", ""},
  };
  return declared;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t flags = in.byte();
  const bool parallel = flags & 1;
  const EventKind kind = flags & 2 ? EventKind::kReasoning : EventKind::kText;
  const std::string_view answer = in.rest();

  Checker cut;
  qodo::ToolSieve sieve(tools(), parallel, &cut);
  std::string whole;
  std::string_view rest = answer;
  while (true) {
    const size_t at = rest.find('\x1e');
    const std::string_view piece = rest.substr(0, at);
    whole += piece;
    if (!piece.empty()) sieve.onEvent(conversation::Event::of(kind, piece));
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + 1);
  }
  sieve.onEvent(conversation::Event::of(EventKind::kEnd));
  FUZZ_CHECK(cut.over);

  Checker once;
  qodo::ToolSieve again(tools(), parallel, &once);
  if (!whole.empty()) again.onEvent(conversation::Event::of(kind, whole));
  again.onEvent(conversation::Event::of(EventKind::kEnd));
  FUZZ_CHECK(once.text == cut.text);
  FUZZ_CHECK(once.calls == cut.calls);
  return 0;
}
