#include "qodo/command_decoder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <optional>
#include <utility>

#include "api/json_text.h"
#include "qodo/command_query.h"
#include "qodo/json_scan.h"

namespace qodo {
namespace {

namespace json = boost::json;
using Out = conversation::Event;
using OutKind = conversation::EventKind;
using conversation::Failure;

bool containsNoCase(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

std::string_view stringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::object* objectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}

// The text of an error frame, or nullopt when the frame is not one (QODO-PROTOCOL.md §6).
std::optional<std::string> errorText(const json::object& frame) {
  const bool typeError = stringAt(frame, "type") == "error";
  const bool errorAndMessage = frame.contains("error") && frame.contains("message");
  if (!typeError && !errorAndMessage) return std::nullopt;
  if (const json::value* m = frame.if_contains("message"); m && m->is_string())
    return std::string(m->get_string());
  if (const json::object* data = objectAt(frame, "data")) {
    if (const json::object* args = objectAt(*data, "tool_args"))
      if (std::string_view content = stringAt(*args, "content"); !content.empty())
        return std::string(content);
  }
  if (const json::value* e = frame.if_contains("error")) {
    if (e->is_string()) return std::string(e->get_string());
    return json::serialize(*e);
  }
  return std::string("the backend reported an error");
}

}  // namespace

namespace {

class FrameScan : public JsonScan {
 public:
  using JsonScan::JsonScan;

  std::optional<UserResponseText> frame() {
    bool sawSession = false, sawData = false;
    UserResponseText out;
    const bool read = object([&](std::string_view key) {
      if (key == "error" || key == "type" || key == "message") return false;
      if (key == "session_id") {
        std::string_view id;
        if (sawSession || !plainString(id)) return false;
        sawSession = true;
        return true;
      }
      if (key == "data") {
        if (sawData || !data(out)) return false;
        sawData = true;
        return true;
      }
      return skipValue(0);
    });
    skipSpace();
    if (!read || !atEnd() || !sawSession || !sawData) return std::nullopt;
    return out;
  }

 private:
  bool data(UserResponseText& out) {
    bool sawTool = false, sawIdentifier = false, sawArgs = false;
    const bool read = object([&](std::string_view key) {
      if (key == "type") return false;
      if (key == "tool") {
        std::string_view tool;
        if (sawTool || !plainString(tool) || tool != "UserResponse") return false;
        sawTool = true;
        return true;
      }
      if (key == "identifier") {
        if (sawIdentifier || !plainString(out.identifier)) return false;
        sawIdentifier = true;
        return true;
      }
      if (key == "tool_args") {
        if (sawArgs || !args(out.content)) return false;
        sawArgs = true;
        return true;
      }
      return skipValue(1);
    });
    return read && sawTool && sawArgs;
  }

  bool args(std::string_view& content) {
    bool sawContent = false;
    const bool read = object([&](std::string_view key) {
      if (key == "type") return false;
      if (key != "content") return skipValue(2);
      if (sawContent || !string(&content)) return false;
      sawContent = true;
      return true;
    });
    return read && sawContent;
  }
};

}  // namespace

std::optional<UserResponseText> scanUserResponse(std::string_view frame, std::string& scratch) {
  return FrameScan(frame, scratch).frame();
}

bool isReadyFrame(std::string_view frame) {
  // Cheap first: a Ready frame is small and names its tool.
  if (frame.size() > 4096 || frame.find("\"Ready\"") == std::string_view::npos) return false;
  boost::system::error_code ec;
  const json::value value = json::parse(frame, ec);
  const json::object* object = ec ? nullptr : value.if_object();
  const json::object* data = object ? objectAt(*object, "data") : nullptr;
  return data != nullptr && stringAt(*data, "tool") == "Ready";
}

Failure classifyCommandError(std::string_view message) {
  if (containsNoCase(message, "usage limit")) return Failure::kUsageExhausted;
  if (containsNoCase(message, "too many concurrent requests") ||
      containsNoCase(message, "rate limit"))
    return Failure::kRateLimited;
  if (containsNoCase(message, "Detected that you are using Chinese"))
    return Failure::kChineseDetected;
  if (containsNoCase(message, "invalid api key") || containsNoCase(message, "invalid token") ||
      containsNoCase(message, "authentication failed") || containsNoCase(message, "unauthorized"))
    return Failure::kInvalidToken;
  return Failure::kBackendError;
}

std::string toolResultFrame(std::string_view tool, std::string_view toolId,
                            std::string_view content, bool isError) {
  using api::appendJsonString;
  std::string out = R"(IDERetrievalAnswer {"tool":)";
  appendJsonString(out, tool);
  out += R"(,"tool_id":)";
  appendJsonString(out, toolId);
  out += isError ? R"(,"answer":{"isError":true,"content":[{"type":"text","text":)"
                 : R"(,"answer":{"isError":false,"content":[{"type":"text","text":)";
  appendJsonString(out, content);
  out += R"(}]},"tools":{"IDETool":[]},)";
  out += R"("user_data":{"extension_version":"0.36.0","os_platform":"linux",)";
  out += R"("os_version":"v22.11.0","editor_type":"cli"},"agent_type":"cli"})";
  out += '\n';
  return out;
}

std::string toolErrorFrame(std::string_view tool, std::string_view toolId,
                           std::string_view message) {
  return toolResultFrame(tool, toolId, message, true);
}

CommandDecoder::CommandDecoder(std::vector<std::string> clientTools, bool hideReasoning)
    : clientTools_(std::move(clientTools)),
      hideReasoning_(hideReasoning),
      reasoning_(hideReasoning) {}

void CommandDecoder::reset() {
  reasoning_ = ReasoningSplitter(hideReasoning_);
  identifier_.clear();
  sawText_ = false;
  frames_ = 0;
  clientCalls_ = 0;
  calls_.clear();
  pending_.clear();
  outgoing_.clear();
  ended_ = false;
  failed_ = false;
}

std::string CommandDecoder::takeOutgoing() { return std::exchange(outgoing_, std::string()); }

bool CommandDecoder::feed(std::string_view frame, conversation::EventSink& sink) {
  if (failed_) return false;
  if (ended_) return true;  // Ready, a close notice: the answer is already complete
  return handle(frame, sink);
}

bool CommandDecoder::handle(std::string_view frame, conversation::EventSink& sink) {
  // Most frames are text deltas: read them in place.
  if (auto delta = scanUserResponse(frame, scratch_)) {
    ++frames_;
    text(delta->identifier, delta->content, sink);
    return true;
  }
  // Frames are small; their parse needs no heap.
  std::array<unsigned char, 4096> buffer;
  json::monotonic_resource resource(buffer.data(), buffer.size());
  json::parse_options options;
  options.max_depth = 64;
  boost::system::error_code ec;
  const json::value value = json::parse(frame, ec, &resource, options);
  const json::object* object = ec ? nullptr : value.if_object();
  if (object == nullptr)
    return fail(Failure::kUnreadable, "the backend sent a frame that is not a JSON object", sink);

  if (auto error = errorText(*object)) {
    if (containsNoCase(*error, "resume")) return true;
    return fail(classifyCommandError(*error), *error, sink);
  }
  const json::object* data = objectAt(*object, "data");
  const std::string_view tool = data ? stringAt(*data, "tool") : std::string_view();
  if (tool == "Ready") {
    if (clientCalls_ > 0) {
      end(sink);
    } else if (!pending_.empty()) {
      outgoing_ += pending_.front();
      pending_.pop_front();
    } else if (frames_ > 0) {
      end(sink);
    } else {
      return fail(Failure::kBackendError, "the backend did not take the request (Ready, no answer)",
                  sink);
    }
    return !failed_;
  }
  if (!object->contains("session_id") || tool.empty()) return true;  // not an answer frame
  ++frames_;
  const json::object* args = objectAt(*data, "tool_args");
  if (tool == "UserResponse") {
    std::string_view subType = args ? stringAt(*args, "type") : std::string_view();
    if (subType.empty()) subType = stringAt(*data, "type");
    if (subType == "retry_status" || subType == "progress") return true;
    const std::string_view content = args ? stringAt(*args, "content") : std::string_view();
    text(stringAt(*data, "identifier"), content, sink);
    return true;
  }
  if (tool == "EndNode") {
    end(sink);
    return true;
  }
  // A tool call.
  const std::string_view server = stringAt(*data, "server_name");
  if (server.empty() || data->contains("tool_result") || server != kClientToolServer) return true;
  std::string id(stringAt(*data, "identifier"));
  const bool declared =
      std::find(clientTools_.begin(), clientTools_.end(), tool) != clientTools_.end();
  if (!declared || args == nullptr) {
    spdlog::debug("command backend called {} tool {}: answered with an error",
                  declared ? "with bad arguments the" : "the undeclared", tool);
    pending_.push_back(toolErrorFrame(tool, id,
                                      declared ? "The arguments of this call are not a JSON object."
                                               : "This tool is not available here."));
    return true;
  }
  json::object arguments = *args;
  arguments.erase("tool_reasoning");
  const std::string argumentsText = json::serialize(arguments);
  if (id.empty()) id = "call_" + std::to_string(clientCalls_);
  const size_t index = clientCalls_++;
  calls_.push_back({std::string(tool), id});
  Out begin = Out::of(OutKind::kToolCallBegin, tool);
  begin.index = index;
  begin.id = id;
  sink.onEvent(begin);
  Out piece = Out::of(OutKind::kToolCallArguments, argumentsText);
  piece.index = index;
  sink.onEvent(piece);
  Out done = Out::of(OutKind::kToolCallEnd);
  done.index = index;
  sink.onEvent(done);
  return true;
}

void CommandDecoder::queueAnswers(std::vector<std::string> frames) {
  for (auto& frame : frames) pending_.push_back(std::move(frame));
}

void CommandDecoder::text(std::string_view identifier, std::string_view content,
                          conversation::EventSink& sink) {
  if (content.empty()) return;
  // A missing identifier continues the current message; a new one starts a paragraph.
  if (!identifier.empty() && identifier != identifier_) {
    if (sawText_) emit(reasoning_.feed("\n\n"), sink);
    identifier_ = identifier;
  }
  sawText_ = true;
  emit(reasoning_.feed(content), sink);
}

void CommandDecoder::end(conversation::EventSink& sink) {
  if (ended_) return;
  emit(reasoning_.flush(), sink);
  if (!sawText_ && clientCalls_ == 0) {
    fail(Failure::kNoText, "the backend answered without any text", sink);
    return;
  }
  ended_ = true;
  sink.onEvent(Out::of(OutKind::kEnd));
}

void CommandDecoder::finish(conversation::EventSink& sink) {
  if (failed_ || ended_) return;
  if (clientCalls_ > 0) {
    end(sink);
    return;
  }
  fail(Failure::kBackendError, "the backend closed the session before the answer ended", sink);
}

bool CommandDecoder::fail(Failure failure, std::string_view message,
                          conversation::EventSink& sink) {
  failed_ = true;
  Out event = Out::of(OutKind::kFailure, message);
  event.failure = failure;
  sink.onEvent(event);
  return false;
}

void CommandDecoder::emit(const ReasoningPieces& pieces, conversation::EventSink& sink) {
  if (!pieces.reasoning.empty()) sink.onEvent(Out::of(OutKind::kReasoning, pieces.reasoning));
  if (!pieces.content.empty()) sink.onEvent(Out::of(OutKind::kText, pieces.content));
}

}  // namespace qodo
