// The conversation every client surface decodes into and every backend encodes from (DESIGN.md,
// "several surfaces, several backends, one conversation"): pure values, no JSON, no wire format.
// A message is a role and its parts (text, an image, a tool call, a tool result); the
// conversation adds the model the client named, the tools it declared and its limits.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace conversation {

enum class Role { kSystem, kUser, kAssistant, kTool };

// "system", "user", "assistant", "tool": the names OpenAI and both Qodo backends use.
std::string_view roleName(Role role);

struct Text {
  std::string text;
};
struct Image {
  std::string dataUrl;  // data:image/…;base64,…
};
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // a JSON object, as text
};
struct ToolResult {
  std::string callId;
  std::string content;
  bool isError = false;
};
using Part = std::variant<Text, Image, ToolCall, ToolResult>;

struct Message {
  Role role = Role::kUser;
  std::vector<Part> parts;

  // A message of one text part.
  static Message ofText(Role role, std::string text);
  // What a model reads of it as text: the text parts and tool results' contents, joined with
  // "\n" (SPEC §3: text parts are joined with a newline).
  std::string text() const;
};

// A function the client declares; `parameters` is its JSON schema, as text.
struct Tool {
  std::string name;
  std::string description;
  std::string parameters;
};

struct ToolChoice {
  enum class Mode { kAuto, kNone, kRequired, kNamed };
  Mode mode = Mode::kAuto;
  std::string name;  // kNamed
};

// The index of the first message carrying a tool result whose call id names no call of an
// earlier message, or nothing when every result answers a call.
std::optional<size_t> firstUnmatchedResult(const std::vector<Message>& messages);

struct Conversation {
  std::string model;  // as the client named it
  std::vector<Message> messages;
  std::vector<Tool> tools;
  ToolChoice toolChoice;
  bool parallelToolCalls = true;
  std::optional<long> maxTokens;
};

}  // namespace conversation
