// The body of a normal chat answer, planned as data before any byte is written: the frames
// the server writes one at a time with the scripted interval between them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenario.h"

namespace emu {

// What the planner needs from the request.
struct ChatRequestInfo {
  std::string chatInput;
  std::string conversation;  // chat_input and every previous message's content
  std::string customModel;
};

struct Frame {
  std::string text;        // written as is (lines already terminated)
  std::uint64_t fill = 0;  // then this many filler bytes and a newline (the oversize line)
  bool event = false;      // counts toward `after_events` and is preceded by the interval
};

// The frames of an answer, and the text a client should reassemble from them.
struct AnswerPlan {
  std::vector<Frame> frames;
  std::string content;  // every text event's data.content concatenated
};

// The text pieces of an answer (before any <think> prefix): "tok0 ", "tok1 ", …, "tokN-1".
std::vector<std::string> textPieces(const ChatBehaviour& b, const ChatRequestInfo& req);

AnswerPlan planAnswer(const ChatBehaviour& b, const ChatRequestInfo& req);

}  // namespace emu
