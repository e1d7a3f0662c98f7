// How the chats backend learns about tools (SPEC.md §10, emulated): the instructions that
// describe the client's tools and the markup the model is asked to write, and the way earlier
// calls and results appear in the history. The wording and why it is so: docs/tools.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conversation/conversation.h"

namespace qodo {

// The system text for the conversation's tools and tool_choice: empty when it declares none
// or tool_choice is "none"; a named choice describes only that tool and asks for it;
// "required" asks for at least one call; parallel_tool_calls false asks for one call at most.
std::string toolInstructions(const conversation::Conversation& conversation);

// An assistant turn's earlier calls as the markup the instructions ask for: one block, one
// invoke per call.
void appendCallsMarkup(std::string& out, const std::vector<const conversation::ToolCall*>& calls);

// An earlier result, labelled with its tool's name (`toolName` may be empty) and call id.
void appendResultText(std::string& out, const conversation::ToolResult& result,
                      std::string_view toolName);

}  // namespace qodo
