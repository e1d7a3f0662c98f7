// qodo::CommandDecoder on any sequence of server frames (the input split at '\x1e' into frames,
// the first byte choosing the declared tools and reasoning mode): never crashes, and keeps the
// event contract every surface relies on — at most one end or failure and nothing after it;
// tool calls begin, get their arguments (one JSON object) and end, in order, with fresh indexes,
// only for declared tools; text and reasoning are never empty; a frame to send back is always
// an IDERetrievalAnswer line whose JSON is an object.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "qodo/command_decoder.h"

namespace {

using conversation::EventKind;

struct Checker : conversation::EventSink {
  std::vector<std::string> declared;
  bool over = false;
  bool inCall = false;
  bool sawArguments = false;
  size_t nextIndex = 0;
  size_t currentIndex = 0;

  void onEvent(const conversation::Event& e) override {
    FUZZ_CHECK(!over);
    switch (e.kind) {
      case EventKind::kText:
      case EventKind::kReasoning:
        FUZZ_CHECK(!inCall);
        FUZZ_CHECK(!e.text.empty());
        return;
      case EventKind::kToolCallBegin: {
        FUZZ_CHECK(!inCall);
        FUZZ_CHECK(e.index == nextIndex);
        bool known = false;
        for (const auto& name : declared) known = known || name == e.text;
        FUZZ_CHECK(known);
        FUZZ_CHECK(!e.id.empty());
        inCall = true;
        sawArguments = false;
        currentIndex = e.index;
        ++nextIndex;
        return;
      }
      case EventKind::kToolCallArguments: {
        FUZZ_CHECK(inCall && e.index == currentIndex && !sawArguments);
        const auto json = fuzz::parseJson(e.text);
        FUZZ_CHECK(!fuzz::validUtf8(e.text) || (json && json->is_object()));
        sawArguments = true;
        return;
      }
      case EventKind::kToolCallEnd:
        FUZZ_CHECK(inCall && e.index == currentIndex && sawArguments);
        inCall = false;
        return;
      case EventKind::kEnd:
      case EventKind::kFailure:
        FUZZ_CHECK(!inCall);
        over = true;
        return;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t flags = in.byte();
  std::vector<std::string> tools;
  if (flags & 1) tools.push_back("get_weather");
  if (flags & 2) tools.push_back("f");
  qodo::CommandDecoder decoder(tools, flags & 4);
  Checker checker;
  checker.declared = tools;
  std::string_view rest = in.rest();
  bool live = true;
  while (!rest.empty()) {
    const size_t cut = rest.find('\x1e');
    const std::string_view frame = rest.substr(0, cut);
    const bool wasOver = checker.over;
    live = decoder.feed(frame, checker);
    FUZZ_CHECK(!wasOver || !live || decoder.ended());
    const std::string reply = decoder.takeOutgoing();
    if (!reply.empty()) {
      FUZZ_CHECK(reply.starts_with("IDERetrievalAnswer {") && reply.back() == '\n');
      const std::string_view body(reply.data() + 19, reply.size() - 20);
      const auto json = fuzz::parseJson(body);
      FUZZ_CHECK(json && json->is_object());
    }
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 1);
  }
  if (flags & 8) decoder.finish(checker);
  if (flags & 8) FUZZ_CHECK(checker.over);
  return 0;
}
