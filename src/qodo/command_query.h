// The command backend's request (SPEC.md §9, QODO-PROTOCOL.md §5.1): one `UserQuery` frame that
// carries a whole conversation. Every request is answerable from its own messages: the system
// messages become `system_prompt`, the rest is rendered into `user_request` (docs/backends.md
// shows the rendering), data-URL images go to `images`, the client's tools to `tools` under one
// server name. Nothing of the gateway's machine (paths, files) is sent.
#pragma once

#include <string>
#include <string_view>

#include "conversation/conversation.h"

namespace qodo {

// The MCP server name the client's tools are declared under; a tool call for this server is
// the client's to answer.
inline constexpr std::string_view kClientToolServer = "client";

// The system prompt when the client sent none: a plain assistant, not Qodo's coding agent.
inline constexpr std::string_view kNeutralSystemPrompt =
    "You are a helpful assistant. Answer the user's messages directly and accurately.";

struct CommandQuery {
  std::string systemPrompt;
  std::string userRequest;
};

// system_prompt and user_request of a conversation (pure; used by userQueryFrame).
CommandQuery renderCommandQuery(const conversation::Conversation& conversation);

// The frame as sent: `UserQuery <compact JSON>\n`. `sessionId` is a uuid4 (36 characters).
std::string userQueryFrame(const conversation::Conversation& conversation,
                           std::string_view backendModel, std::string_view sessionId);

// A frame for another session: the session id sits at a fixed place at the front, so each
// attempt of a request writes its own over the last one without rebuilding the frame. False
// (nothing changed) unless `frame` is a userQueryFrame and `sessionId` has the same length.
bool setSessionId(std::string& frame, std::string_view sessionId);

}  // namespace qodo
