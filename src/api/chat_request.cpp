#include "api/chat_request.h"

#include "api/request_fields.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <boost/json/serialize.hpp>
#include <exception>
#include <new>

namespace api {
namespace {

namespace json = boost::json;

using conversation::Role;

std::optional<ApiError> readRole(const json::object& msg, const std::string& at, Role& role) {
  const std::string param = at + ".role";
  const json::value* v = msg.if_contains("role");
  if (!v || v->is_null()) return missing(param);
  if (!v->is_string()) return wrongType(param, "a string", *v);
  const std::string_view r = v->get_string();
  if (r == "system" || r == "developer") {
    role = Role::kSystem;
  } else if (r == "user") {
    role = Role::kUser;
  } else if (r == "assistant") {
    role = Role::kAssistant;
  } else if (r == "tool") {
    role = Role::kTool;
  } else {
    return badRequest("Invalid value: '" + std::string(r) +
                          "'. Supported values are: 'system', 'user', 'assistant' and 'tool'.",
                      param, "invalid_value");
  }
  return std::nullopt;
}

// What one message's content holds: its text parts in order (a string is one part) and its
// images (data URLs).
struct Content {
  std::vector<std::string> texts;
  std::vector<std::string> images;
};

// An image part's URL: `image_url` as {"url": …} (OpenAI's form) or as a plain string.
std::optional<ApiError> readImage(const json::object& part, const std::string& partParam,
                                  std::vector<std::string>& images) {
  const json::value* image = part.if_contains("image_url");
  if (!image || image->is_null()) return missing(partParam + ".image_url");
  const json::value* url = image;
  std::string urlParam = partParam + ".image_url";
  if (const json::object* o = image->if_object()) {
    url = o->if_contains("url");
    urlParam += ".url";
    if (!url || url->is_null()) return missing(urlParam);
  }
  if (!url->is_string()) return wrongType(urlParam, "a string", *url);
  const std::string_view text = url->get_string();
  if (text.rfind("data:image/", 0) == 0 && text.find(";base64,") != std::string_view::npos) {
    images.emplace_back(text);
    return std::nullopt;
  }
  if (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0)
    return badRequest("The gateway fetches no URL a client names: send " + urlParam +
                          " as a data URL (data:image/png;base64,…) instead.",
                      urlParam, "image_url_not_supported");
  return badRequest(urlParam + " must be a data URL of an image (data:image/png;base64,…).",
                    urlParam, "invalid_image_url");
}

std::optional<ApiError> readContent(const json::object& msg, const std::string& at,
                                    Content& content) {
  const std::string param = at + ".content";
  const json::value* v = optionalField(msg, "content");
  if (!v) return std::nullopt;
  if (v->is_string()) {
    content.texts.emplace_back(v->get_string());
    return std::nullopt;
  }
  if (!v->is_array()) return wrongType(param, "a string or an array of content parts", *v);
  const json::array& parts = v->get_array();
  for (size_t j = 0; j < parts.size(); ++j) {
    const std::string partParam = param + "[" + std::to_string(j) + "]";
    const json::object* part = parts[j].if_object();
    if (!part) return wrongType(partParam, "an object", parts[j]);
    const json::value* type = part->if_contains("type");
    if (!type || type->is_null()) return missing(partParam + ".type");
    if (!type->is_string()) return wrongType(partParam + ".type", "a string", *type);
    const std::string_view typeName = type->get_string();
    if (typeName == "image_url") {
      if (auto err = readImage(*part, partParam, content.images)) return err;
      continue;
    }
    if (typeName != "text") {
      return badRequest("The backend takes text and images only: " + partParam + " is a '" +
                            std::string(typeName) + "' part.",
                        partParam, "unsupported_content");
    }
    const json::value* text = part->if_contains("text");
    if (!text || text->is_null()) return missing(partParam + ".text");
    if (!text->is_string()) return wrongType(partParam + ".text", "a string", *text);
    content.texts.emplace_back(text->get_string());
  }
  return std::nullopt;
}

// A tool message is one tool result: its text parts joined, for the call `tool_call_id` names.
conversation::Message toMessage(Role role, Content content, const json::object& msg) {
  std::vector<std::string>& texts = content.texts;
  conversation::Message m;
  m.role = role;
  if (role == Role::kTool) {
    conversation::ToolResult result;
    for (size_t i = 0; i < texts.size(); ++i) {
      if (i != 0) result.content += '\n';
      result.content += texts[i];
    }
    if (const json::value* id = msg.if_contains("tool_call_id"); id && id->is_string())
      result.callId = id->get_string();
    m.parts.emplace_back(std::move(result));
    return m;
  }
  m.parts.reserve(texts.size() + content.images.size());
  for (auto& text : texts) m.parts.emplace_back(conversation::Text{std::move(text)});
  for (auto& image : content.images) m.parts.emplace_back(conversation::Image{std::move(image)});
  return m;
}

// An assistant message's `tool_calls`: each {"id","type":"function","function":{"name",
// "arguments":"<JSON text>"}} becomes a ToolCall part after the message's text.
std::optional<ApiError> readToolCalls(const json::object& msg, const std::string& at,
                                      std::vector<conversation::ToolCall>& out) {
  const std::string param = at + ".tool_calls";
  const json::value* v = optionalField(msg, "tool_calls");
  if (!v) return std::nullopt;
  if (!v->is_array()) return wrongType(param, "an array", *v);
  const json::array& calls = v->get_array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string callParam = param + "[" + std::to_string(i) + "]";
    const json::object* call = calls[i].if_object();
    if (!call) return wrongType(callParam, "an object", calls[i]);
    const json::value* function = call->if_contains("function");
    const json::object* f = function ? function->if_object() : nullptr;
    if (!f) return missing(callParam + ".function");
    const json::value* name = f->if_contains("name");
    if (!name || !name->is_string()) return missing(callParam + ".function.name");
    conversation::ToolCall tc;
    tc.name = name->get_string();
    if (const json::value* id = call->if_contains("id"); id && id->is_string())
      tc.id = id->get_string();
    if (const json::value* args = f->if_contains("arguments")) {
      if (args->is_string())
        tc.arguments = args->get_string();
      else if (!args->is_null())
        tc.arguments = json::serialize(*args);  // some clients send the object itself
    }
    out.push_back(std::move(tc));
  }
  return std::nullopt;
}

// `tools` (functions only), `tool_choice` and `parallel_tool_calls` (SPEC §10).
std::optional<ApiError> readTools(const json::object& root, conversation::Conversation& conv) {
  auto readOne = [&conv](const json::object& tool, const std::string& at,
                        size_t& bytes) -> std::optional<ApiError> {
    const json::value* type = tool.if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "function")
      return badRequest("Invalid value for '" + at + ".type': only 'function' tools are supported.",
                        at + ".type", "invalid_value");
    const json::value* function = tool.if_contains("function");
    const json::object* f = function ? function->if_object() : nullptr;
    if (!f) return missing(at + ".function");
    return readTool(*f, at + ".function", "parameters", false, conv.tools, bytes);
  };
  if (auto err = readToolList(root, readOne)) return err;
  using Mode = conversation::ToolChoice::Mode;
  if (const json::value* v = optionalField(root, "tool_choice")) {
    if (v->is_string()) {
      const std::string_view c = v->get_string();
      if (c == "auto")
        conv.toolChoice.mode = Mode::kAuto;
      else if (c == "none")
        conv.toolChoice.mode = Mode::kNone;
      else if (c == "required")
        conv.toolChoice.mode = Mode::kRequired;
      else
        return badRequest("Invalid value for 'tool_choice': '" + std::string(c).substr(0, 80) +
                              "'. Supported values are: 'none', 'auto' and 'required', or a "
                              "named function.",
                          "tool_choice", "invalid_value");
    } else if (const json::object* o = v->if_object()) {
      const json::value* function = o->if_contains("function");
      const json::object* f = function ? function->if_object() : nullptr;
      const json::value* name = f ? f->if_contains("name") : nullptr;
      if (!name || !name->is_string()) return missing("tool_choice.function.name");
      conv.toolChoice = {Mode::kNamed, std::string(name->get_string())};
    } else {
      return wrongType("tool_choice", "a string or an object", *v);
    }
    if (conv.toolChoice.mode != Mode::kAuto && conv.toolChoice.mode != Mode::kNone &&
        conv.tools.empty())
      return badRequest("'tool_choice' needs 'tools'.", "tool_choice", "invalid_value");
    if (conv.toolChoice.mode == Mode::kNamed) {
      bool known = false;
      for (const auto& t : conv.tools) known = known || t.name == conv.toolChoice.name;
      if (!known)
        return badRequest("'tool_choice' names the function '" +
                              conv.toolChoice.name.substr(0, 80) + "', which is not in 'tools'.",
                          "tool_choice.function.name", "invalid_value");
    }
  }
  bool parallel = true;
  if (auto err = readBool(root, "parallel_tool_calls", "parallel_tool_calls", parallel)) return err;
  conv.parallelToolCalls = parallel;
  return std::nullopt;
}

std::optional<ApiError> readMessages(const json::object& root,
                                     std::vector<conversation::Message>& out, bool& hasImages) {
  const json::value* v = optionalField(root, "messages");
  if (!v) return missing("messages");
  if (!v->is_array()) return wrongType("messages", "an array", *v);
  const json::array& list = v->get_array();
  if (list.empty()) {
    return badRequest("'messages' must hold at least one message.", "messages");
  }
  if (list.size() > kMaxMessages) {
    return badRequest("'messages' holds " + std::to_string(list.size()) + " messages; at most " +
                          std::to_string(kMaxMessages) + " are accepted.",
                      "messages");
  }
  out.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const json::object* msg = list[i].if_object();
    if (!msg) return wrongType(at, "an object", list[i]);
    Role role = Role::kUser;
    Content content;
    std::vector<conversation::ToolCall> calls;
    if (auto err = readRole(*msg, at, role)) return err;
    if (auto err = readContent(*msg, at, content)) return err;
    if (role == Role::kAssistant)
      if (auto err = readToolCalls(*msg, at, calls)) return err;
    // A message with no text, image or call has nothing for the backend to see. (A single
    // empty part has no text; two empty parts are a newline, as the joined text always was.)
    const auto& texts = content.texts;
    const bool noText = texts.empty() || (texts.size() == 1 && texts[0].empty());
    // A tool result is kept even when empty: its call needs an answer.
    if (role != Role::kTool && content.images.empty() && calls.empty() && noText) continue;
    if (role == Role::kUser && !content.images.empty()) hasImages = true;
    else if (!content.images.empty())
      return badRequest("Only user messages may carry images; " + at + " is not one.",
                        at + ".content", "unsupported_content");
    if (noText) content.texts.clear();
    out.push_back(toMessage(role, std::move(content), *msg));
    for (auto& call : calls) out.back().parts.emplace_back(std::move(call));
  }
  if (out.empty()) {
    return badRequest("Every message in 'messages' is empty; send at least one with text.",
                      "messages");
  }
  if (const auto unmatched = conversation::firstUnmatchedResult(out)) {
    // Which client message that is: the empty ones were left out of `out`.
    const auto& result = std::get<conversation::ToolResult>(out[*unmatched].parts.front());
    return badRequest("A tool message answers the call '" + result.callId.substr(0, 80) +
                          "', which no earlier assistant message made (its tool_calls ids).",
                      "messages", "invalid_tool_call_id");
  }
  return std::nullopt;
}

ParsedChatRequest parseValue(const json::value& root, const ModelLookup& live) {
  const json::object* obj = root.if_object();
  if (!obj) return badRequest("The request body must be a JSON object.");

  ChatRequest req;
  conversation::Conversation& conv = req.conversation;
  const json::value* model = optionalField(*obj, "model");
  if (!model) return badRequest("You must provide a model parameter.", "model");
  if (!model->is_string()) return wrongType("model", "a string", *model);
  conv.model = model->get_string();
  req.modelInfo = live ? live(conv.model) : findModel(conv.model);
  req.seedModel = isSeedModel(req.modelInfo);
  if (!req.modelInfo) {
    return badRequest("The model `" + conv.model +
                          "` does not exist. GET /v1/models lists the "
                          "models this gateway offers.",
                      "model", "model_not_found");
  }

  if (auto err = readMessages(*obj, conv.messages, req.hasImages)) return *err;
  if (auto err = readTools(*obj, conv)) return *err;
  if (auto err = readBool(*obj, "stream", "stream", req.stream)) return *err;
  if (const json::value* so = optionalField(*obj, "stream_options")) {
    if (!so->is_object()) return wrongType("stream_options", "an object", *so);
    if (auto err = readBool(so->get_object(), "include_usage", "stream_options.include_usage",
                            req.includeUsage))
      return *err;
  }
  std::optional<long> maxTokens;
  std::optional<long> maxCompletionTokens;
  if (auto err = readMaxTokens(*obj, "max_tokens", maxTokens)) return *err;
  if (auto err = readMaxTokens(*obj, "max_completion_tokens", maxCompletionTokens)) return *err;
  conv.maxTokens = maxCompletionTokens ? maxCompletionTokens : maxTokens;
  return req;
}

}  // namespace

ParsedChatRequest parseJsonBody(
    std::string_view body, const std::function<ParsedChatRequest(const boost::json::value&)>& read) {
  try {
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    json::monotonic_resource resource;
    boost::system::error_code ec;
    json::value root = json::parse(body, ec, &resource, options);
    if (ec == json::error::too_deep) {
      return badRequest("The JSON body is nested more than " + std::to_string(kMaxJsonDepth) +
                        " levels deep.");
    }
    if (ec) {
      return badRequest("We could not parse the JSON body of your request (" + ec.message() +
                        "). Send a valid JSON object.");
    }
    return read(root);
  } catch (const std::bad_alloc&) {
    return internalError("Out of memory while reading the request.");
  } catch (const std::exception& e) {
    return internalError(std::string("Could not read the request: ") + e.what());
  }
}

ParsedChatRequest parseChatRequest(std::string_view body, const ModelLookup& live) {
  return parseJsonBody(body, [&](const json::value& root) { return parseValue(root, live); });
}

}  // namespace api
