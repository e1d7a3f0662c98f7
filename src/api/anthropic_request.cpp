#include "api/anthropic_request.h"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "api/json_text.h"
#include "api/request_fields.h"

namespace api {
namespace {

namespace json = boost::json;
using conversation::Role;

constexpr size_t kMaxStopSequences = 64;

// An `image` block's base64 source as a data URL (the only form the backends take).
std::optional<ApiError> readImageBlock(const json::object& block, const std::string& at,
                                       std::vector<conversation::Part>& parts) {
  const json::value* source = block.if_contains("source");
  const json::object* s = source ? source->if_object() : nullptr;
  if (!s) return missing(at + ".source");
  const json::value* type = s->if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "base64")
    return badRequest("The gateway fetches no URL a client names: send " + at +
                          ".source as {\"type\":\"base64\",\"media_type\",\"data\"}.",
                      at + ".source.type", "image_url_not_supported");
  const json::value* media = s->if_contains("media_type");
  const json::value* data = s->if_contains("data");
  if (!media || !media->is_string()) return missing(at + ".source.media_type");
  if (!data || !data->is_string()) return missing(at + ".source.data");
  const std::string_view mediaType = media->get_string();
  if (mediaType.find_first_of(";,") != std::string_view::npos ||
      mediaType.substr(0, 6) != "image/")
    return badRequest("Invalid '" + at + ".source.media_type': an image type such as image/png.",
                      at + ".source.media_type", "invalid_value");
  std::string url = "data:";
  url += mediaType;
  url += ";base64,";
  url += data->get_string();
  parts.emplace_back(conversation::Image{std::move(url)});
  return std::nullopt;
}

// A tool_result's content: a string, or text and image blocks.
std::optional<ApiError> readResultContent(const json::value* content, const std::string& at,
                                          conversation::ToolResult& result,
                                          std::vector<conversation::Part>& images) {
  if (!content || content->is_null()) return std::nullopt;
  if (content->is_string()) {
    result.content = content->get_string();
    return std::nullopt;
  }
  if (!content->is_array()) return wrongType(at, "a string or an array", *content);
  const json::array& blocks = content->get_array();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string param = at + "[" + std::to_string(i) + "]";
    const json::object* b = blocks[i].if_object();
    if (!b) return wrongType(param, "an object", blocks[i]);
    const json::value* type = b->if_contains("type");
    const std::string_view t = type && type->is_string() ? std::string_view(type->get_string()) : "";
    if (t == "text") {
      const json::value* text = b->if_contains("text");
      if (!text || !text->is_string()) return missing(param + ".text");
      if (!result.content.empty()) result.content += '\n';
      result.content += text->get_string();
    } else if (t == "image") {
      if (auto err = readImageBlock(*b, param, images)) return err;
    } else {
      return badRequest("A tool result carries text and images only: " + param + " is a '" +
                            std::string(t).substr(0, 40) + "' block.",
                        param, "unsupported_content");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> readMessage(const json::object& msg, const std::string& at,
                                    conversation::Message& m) {
  const json::value* role = msg.if_contains("role");
  if (!role || role->is_null()) return missing(at + ".role");
  if (!role->is_string()) return wrongType(at + ".role", "a string", *role);
  if (role->get_string() == "user")
    m.role = Role::kUser;
  else if (role->get_string() == "assistant")
    m.role = Role::kAssistant;
  else if (role->get_string() == "system")
    m.role = Role::kSystem;  // newer clients (Claude Code 2.1) put system text among the turns
  else
    return badRequest("Invalid '" + at + ".role': '" + std::string(role->get_string()).substr(0, 40) +
                          "'. Messages are 'user', 'assistant' or 'system'.",
                      at + ".role", "invalid_value");
  const json::value* content = msg.if_contains("content");
  if (!content || content->is_null()) return missing(at + ".content");
  if (content->is_string()) {
    if (!content->get_string().empty())
      m.parts.emplace_back(conversation::Text{std::string(content->get_string())});
    return std::nullopt;
  }
  if (!content->is_array()) return wrongType(at + ".content", "a string or an array", *content);
  const json::array& blocks = content->get_array();
  std::vector<conversation::Part> images;  // a result's images follow the message's parts
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string param = at + ".content[" + std::to_string(i) + "]";
    const json::object* b = blocks[i].if_object();
    if (!b) return wrongType(param, "an object", blocks[i]);
    const json::value* type = b->if_contains("type");
    if (!type || type->is_null()) return missing(param + ".type");
    if (!type->is_string()) return wrongType(param + ".type", "a string", *type);
    const std::string_view t = type->get_string();
    if (t == "text") {
      const json::value* text = b->if_contains("text");
      if (!text || text->is_null()) return missing(param + ".text");
      if (!text->is_string()) return wrongType(param + ".text", "a string", *text);
      if (!text->get_string().empty())
        m.parts.emplace_back(conversation::Text{std::string(text->get_string())});
    } else if (t == "image") {
      if (m.role != Role::kUser)
        return badRequest("Only user messages may carry images; " + at + " is not one.", param,
                          "unsupported_content");
      if (auto err = readImageBlock(*b, param, m.parts)) return err;
    } else if (t == "tool_use") {
      if (m.role != Role::kAssistant)
        return badRequest("A tool_use block belongs to an assistant message.", param,
                          "invalid_value");
      const json::value* id = b->if_contains("id");
      const json::value* name = b->if_contains("name");
      if (!id || !id->is_string()) return missing(param + ".id");
      if (!name || !name->is_string()) return missing(param + ".name");
      conversation::ToolCall call;
      call.id = id->get_string();
      call.name = name->get_string();
      const json::value* input = b->if_contains("input");
      if (input && !input->is_null() && !input->is_object())
        return wrongType(param + ".input", "an object", *input);
      call.arguments = input && input->is_object() ? json::serialize(*input) : "{}";
      m.parts.emplace_back(std::move(call));
    } else if (t == "tool_result") {
      if (m.role != Role::kUser)
        return badRequest("A tool_result block belongs to a user message.", param,
                          "invalid_value");
      const json::value* id = b->if_contains("tool_use_id");
      if (!id || !id->is_string()) return missing(param + ".tool_use_id");
      conversation::ToolResult result;
      result.callId = id->get_string();
      if (auto err = readResultContent(b->if_contains("content"), param + ".content", result,
                                       images))
        return err;
      if (const json::value* e = b->if_contains("is_error"); e && e->is_bool())
        result.isError = e->get_bool();
      m.parts.emplace_back(std::move(result));
    } else if (t == "thinking" || t == "redacted_thinking") {
      continue;  // earlier reasoning: the backends take none back
    } else {
      return badRequest("The backend takes text, images, tool_use and tool_result blocks: " +
                            param + " is a '" + std::string(t).substr(0, 40) + "' block.",
                        param, "unsupported_content");
    }
  }
  for (auto& image : images) m.parts.push_back(std::move(image));
  return std::nullopt;
}

std::optional<ApiError> readSystem(const json::object& root, std::vector<conversation::Message>& out) {
  const json::value* v = optionalField(root, "system");
  if (!v) return std::nullopt;
  std::string text;
  if (v->is_string()) {
    text = v->get_string();
  } else if (const json::array* blocks = v->if_array()) {
    for (size_t i = 0; i < blocks->size(); ++i) {
      const std::string param = "system[" + std::to_string(i) + "]";
      const json::object* b = (*blocks)[i].if_object();
      const json::value* t = b ? b->if_contains("text") : nullptr;
      if (!t || !t->is_string()) return missing(param + ".text");
      if (!text.empty()) text += '\n';
      text += t->get_string();
    }
  } else {
    return wrongType("system", "a string or an array of text blocks", *v);
  }
  if (!text.empty()) out.push_back(conversation::Message::ofText(Role::kSystem, std::move(text)));
  return std::nullopt;
}

std::optional<ApiError> readTools(const json::object& root, conversation::Conversation& conv) {
  auto readOne = [&conv](const json::object& tool, const std::string& at,
                        size_t& bytes) -> std::optional<ApiError> {
    const json::value* type = optionalField(tool, "type");
    // Anthropic's own server tools (web search, code execution, …) have a type and no schema:
    // nothing the backends could run.
    if (type && (!type->is_string() || type->get_string() != "custom") &&
        !optionalField(tool, "input_schema"))
      return std::nullopt;
    return readTool(tool, at, "input_schema", true, conv.tools, bytes);
  };
  if (auto err = readToolList(root, readOne)) return err;
  using Mode = conversation::ToolChoice::Mode;
  if (const json::value* v = optionalField(root, "tool_choice")) {
    const json::object* o = v->if_object();
    if (!o) return wrongType("tool_choice", "an object", *v);
    const json::value* type = o->if_contains("type");
    if (!type || !type->is_string()) return missing("tool_choice.type");
    const std::string_view t = type->get_string();
    if (t == "auto") {
      conv.toolChoice.mode = Mode::kAuto;
    } else if (t == "any") {
      conv.toolChoice.mode = Mode::kRequired;
    } else if (t == "none") {
      conv.toolChoice.mode = Mode::kNone;
    } else if (t == "tool") {
      const json::value* name = o->if_contains("name");
      if (!name || !name->is_string()) return missing("tool_choice.name");
      conv.toolChoice = {Mode::kNamed, std::string(name->get_string())};
      bool known = false;
      for (const auto& tool : conv.tools) known = known || tool.name == conv.toolChoice.name;
      if (!known)
        return badRequest("'tool_choice' names the tool '" + conv.toolChoice.name.substr(0, 80) +
                              "', which is not in 'tools'.",
                          "tool_choice.name", "invalid_value");
    } else {
      return badRequest("Invalid 'tool_choice.type': '" + std::string(t).substr(0, 40) +
                            "'. Supported values are 'auto', 'any', 'tool' and 'none'.",
                        "tool_choice.type", "invalid_value");
    }
    if (conv.toolChoice.mode != Mode::kAuto && conv.toolChoice.mode != Mode::kNone &&
        conv.tools.empty())
      return badRequest("'tool_choice' needs 'tools'.", "tool_choice", "invalid_value");
    bool disableParallel = false;
    if (auto err = readBool(*o, "disable_parallel_tool_use",
                            "tool_choice.disable_parallel_tool_use", disableParallel))
      return err;
    conv.parallelToolCalls = !disableParallel;
  }
  return std::nullopt;
}

// max_tokens: a positive integer (Anthropic's own limits vary by model; the gateway passes no
// limit on, so any size is taken).
std::optional<ApiError> readAnthropicMaxTokens(const json::object& root, std::optional<long>& out,
                                               bool required) {
  const json::value* v = optionalField(root, "max_tokens");
  if (!v) return required ? std::optional(missing("max_tokens")) : std::nullopt;
  if (v->is_int64() && v->get_int64() >= 1) {
    out = v->get_int64() > 1000000000 ? 1000000000L : static_cast<long>(v->get_int64());
    return std::nullopt;
  }
  if (v->is_uint64()) {
    out = 1000000000L;
    return std::nullopt;
  }
  if (!v->is_int64()) return wrongType("max_tokens", "an integer", *v);
  return badRequest("Invalid 'max_tokens': must be at least 1.", "max_tokens", "invalid_value");
}

ParsedChatRequest parseValue(const json::value& root, const ModelLookup& live, bool countOnly) {
  const json::object* obj = root.if_object();
  if (!obj) return badRequest("The request body must be a JSON object.");
  ChatRequest req;
  conversation::Conversation& conv = req.conversation;
  const json::value* model = optionalField(*obj, "model");
  if (!model) return missing("model");
  if (!model->is_string()) return wrongType("model", "a string", *model);
  conv.model = model->get_string();
  req.modelInfo = live ? live(conv.model) : findModel(conv.model);
  req.seedModel = isSeedModel(req.modelInfo);
  if (!req.modelInfo)
    return badRequest("model: the model `" + conv.model +
                          "` is not served here. GET /v1/models lists the models, and "
                          "MODEL_ALIASES maps other names to them.",
                      "model", "model_not_found");
  if (auto err = readAnthropicMaxTokens(*obj, conv.maxTokens, !countOnly)) return *err;

  if (auto err = readSystem(*obj, conv.messages)) return *err;
  const json::value* messages = optionalField(*obj, "messages");
  if (!messages) return missing("messages");
  if (!messages->is_array()) return wrongType("messages", "an array", *messages);
  const json::array& list = messages->get_array();
  if (list.empty()) return badRequest("'messages' must hold at least one message.", "messages");
  if (list.size() > kMaxMessages)
    return badRequest("'messages' holds " + std::to_string(list.size()) + " messages; at most " +
                          std::to_string(kMaxMessages) + " are accepted.",
                      "messages");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const json::object* msg = list[i].if_object();
    if (!msg) return wrongType(at, "an object", list[i]);
    conversation::Message m;
    if (auto err = readMessage(*msg, at, m)) return *err;
    if (m.parts.empty()) continue;
    for (const auto& part : m.parts)
      if (std::holds_alternative<conversation::Image>(part)) req.hasImages = true;
    conv.messages.push_back(std::move(m));
  }
  if (std::none_of(conv.messages.begin(), conv.messages.end(),
                   [](const auto& m) { return m.role != Role::kSystem; }))
    return badRequest("Every message in 'messages' is empty; send at least one with content.",
                      "messages");
  if (const auto unmatched = conversation::firstUnmatchedResult(conv.messages)) {
    std::string id;
    for (const auto& part : conv.messages[*unmatched].parts)
      if (const auto* r = std::get_if<conversation::ToolResult>(&part)) id = r->callId;
    return badRequest("A tool_result answers the tool_use '" + id.substr(0, 80) +
                          "', which no earlier assistant message holds.",
                      "messages", "invalid_tool_use_id");
  }
  if (auto err = readTools(*obj, conv)) return *err;

  if (!countOnly) {
    if (auto err = readBool(*obj, "stream", "stream", req.stream)) return *err;
    if (const json::value* t = optionalField(*obj, "thinking")) {
      const json::object* o = t->if_object();
      const json::value* type = o ? o->if_contains("type") : nullptr;
      if (!type || !type->is_string()) return missing("thinking.type");
      req.thinking = type->get_string() == "enabled" || type->get_string() == "adaptive";
    }
    if (const json::value* s = optionalField(*obj, "stop_sequences")) {
      if (!s->is_array()) return wrongType("stop_sequences", "an array", *s);
      if (s->get_array().size() > kMaxStopSequences)
        return badRequest("At most " + std::to_string(kMaxStopSequences) +
                              " stop sequences are accepted.",
                          "stop_sequences", "invalid_value");
      for (const auto& seq : s->get_array()) {
        if (!seq.is_string()) return wrongType("stop_sequences[]", "a string", seq);
        if (!seq.get_string().empty()) req.stopSequences.emplace_back(seq.get_string());
      }
    }
  }
  return req;
}

std::string_view anthropicType(const ApiError& error) {
  if (error.code == "model_not_found") return "not_found_error";
  switch (error.status) {
    case 400:
    case 405:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

}  // namespace

ParsedChatRequest parseMessagesRequest(std::string_view body, const ModelLookup& live,
                                       bool countOnly) {
  return parseJsonBody(body, [&](const json::value& root) {
    return parseValue(root, live, countOnly);
  });
}

std::string anthropicErrorBody(const ApiError& error) {
  std::string out = R"({"type":"error","error":{"type":")";
  out += anthropicType(error);
  out += R"(","message":)";
  appendJsonString(out, error.message);
  out += "}}";
  return out;
}

std::pair<int, std::string> anthropicErrorJson(const ApiError& error) {
  int status = error.status;
  if (error.code == "model_not_found") status = 404;
  if (status == 503) status = 529;  // no usable account: Anthropic's "overloaded"
  return {status, anthropicErrorBody(error)};
}

}  // namespace api
