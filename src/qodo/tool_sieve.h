// The chats backend's tool calls (SPEC.md §10): the model is asked to write calls as markup in
// its answer, and this sieve turns that markup back into tool-call events as the answer streams.
// It sits between the chats decoder and the relay, an EventSink in front of an EventSink:
//
//   plain text      passes through at once, in the piece it came in;
//   "<", "<tool_"…  a possible start of markup is held, and let go as text as soon as it
//                   cannot be one any more;
//   markup          `<function_calls><invoke name="…"><parameter name="…">…</parameter>
//                   </invoke>…</function_calls>` or `<tool_call>{"name","arguments"}</tool_call>`
//                   is collected to its closing tag, then becomes one call per invoke (the
//                   arguments one JSON object, each parameter typed by the tool's schema), or,
//                   when it names an undeclared tool or does not parse, the text it was;
//   ``` fences      are text: markup inside one is shown, not run.
//
// Once a call went out, the text that follows is dropped (SPEC: whatever follows the last
// closing tag), further markup still becomes calls (one only when parallel calls are off), and
// a call identical to one already made is not made twice. Reasoning gets the same treatment in
// a channel of its own, so a call the model wrote while thinking is a call, not leaked markup.
// Pure: pieces in, events out; nothing here knows a socket or a clock.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conversation/conversation.h"
#include "conversation/event.h"

namespace qodo {

// Markup longer than this is not a call the gateway will make: it goes out as text.
inline constexpr size_t kMaxMarkupBytes = 4 * 1024 * 1024;

class ToolSieve final : public conversation::EventSink {
 public:
  // `tools`: the declared tools (the only ones a call may name); `parallel`: several calls per
  // answer. `next` receives everything.
  ToolSieve(const std::vector<conversation::Tool>& tools, bool parallel,
            conversation::EventSink* next = nullptr);

  // Ready for another answer.
  void reset();
  // Text and reasoning are sieved; at kEnd what is still held goes out first; the rest passes.
  void onEvent(const conversation::Event& event) override;

 private:
  enum class Mode { kPlain, kPrefix, kMarkup };
  enum class Form { kFunctionCalls, kToolCall };
  struct Channel {
    conversation::EventKind kind;
    Mode mode = Mode::kPlain;
    Form form = Form::kFunctionCalls;
    std::string held;       // the possible tag, or the markup so far
    size_t searchFrom = 0;  // where the next look for the closing tag starts
    int backticks = 0;      // the current run of '`'
    bool inFence = false;
  };
  // A parsed call, its arguments serialised.
  struct Call {
    std::string name;
    std::string arguments;
  };
  enum class Parse { kCalls, kIncomplete, kRejected };

  void sieve(Channel& channel, std::string_view piece);
  void closeMarkup(Channel& channel);
  void release(Channel& channel, std::string_view text);
  void flushHeld(Channel& channel);
  void emitCalls(std::vector<Call>& calls);
  Parse parseFunctionCalls(std::string_view body, std::vector<Call>& calls) const;
  Parse parseToolCall(std::string_view body, std::vector<Call>& calls) const;
  bool typedArguments(std::string_view tool,
                      const std::vector<std::pair<std::string, std::string>>& parameters,
                      std::string& out) const;

  struct ToolInfo {
    std::unordered_map<std::string, std::string> types;  // parameter → its schema "type"
  };
  std::unordered_map<std::string, ToolInfo> tools_;
  bool parallel_;
  conversation::EventSink* next_;
  Channel text_{conversation::EventKind::kText};
  Channel reasoning_{conversation::EventKind::kReasoning};
  size_t nextIndex_ = 0;
  std::vector<Call> made_;
};

}  // namespace qodo
