// What a decoder delivered, in order, as readable lines: "text:…", "reasoning:…",
// "call<i>:<id>:<name>", "args<i>:…", "end-call<i>", "end", "failure:<kind>:<message>".
#pragma once

#include <string>
#include <vector>

#include "conversation/event.h"

namespace testing_events {

inline std::string failure(conversation::Failure f, const std::string& message) {
  return "failure:" + std::to_string(static_cast<int>(f)) + ":" + message;
}

struct Recorder : conversation::EventSink {
  std::vector<std::string> seen;
  void onEvent(const conversation::Event& e) override {
    using conversation::EventKind;
    const std::string index = std::to_string(e.index);
    switch (e.kind) {
      case EventKind::kText:
        seen.push_back("text:" + std::string(e.text));
        return;
      case EventKind::kReasoning:
        seen.push_back("reasoning:" + std::string(e.text));
        return;
      case EventKind::kToolCallBegin:
        seen.push_back("call" + index + ":" + std::string(e.id) + ":" + std::string(e.text));
        return;
      case EventKind::kToolCallArguments:
        seen.push_back("args" + index + ":" + std::string(e.text));
        return;
      case EventKind::kToolCallEnd:
        seen.push_back("end-call" + index);
        return;
      case EventKind::kEnd:
        seen.push_back("end");
        return;
      case EventKind::kFailure:
        seen.push_back(failure(e.failure, std::string(e.text)));
        return;
    }
  }
};

}  // namespace testing_events
