#include "api/request_fields.h"

#include <cctype>
#include <cmath>
#include <boost/json/serialize.hpp>

#include "api/models.h"

namespace api {

namespace json = boost::json;

std::string_view kindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

ApiError wrongType(const std::string& param, std::string_view expected, const json::value& got) {
  return badRequest("Invalid type for '" + param + "': expected " + std::string(expected) +
                        ", but got " + std::string(kindName(got)) + ".",
                    param);
}

ApiError missing(const std::string& param) {
  return badRequest("Missing required parameter: '" + param + "'.", param);
}

const json::value* optionalField(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

std::optional<ApiError> readBool(const json::object& obj, std::string_view key,
                                 const std::string& param, bool& out) {
  const json::value* v = optionalField(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_bool()) return wrongType(param, "a boolean", *v);
  out = v->get_bool();
  return std::nullopt;
}

std::optional<ApiError> readMaxTokens(const json::object& obj, std::string_view key,
                                      std::optional<long>& out) {
  const json::value* v = optionalField(obj, key);
  if (!v) return std::nullopt;
  const std::string param(key);
  // Only the size matters past this point, so anything beyond the limit is clamped to it + 1.
  long value = 0;
  if (v->is_int64()) {
    const int64_t i = v->get_int64();
    value = i > kMaxTokensLimit ? kMaxTokensLimit + 1 : static_cast<long>(i);
  } else if (v->is_uint64()) {
    value = kMaxTokensLimit + 1;
  } else if (v->is_double() && std::isfinite(v->get_double()) &&
             std::trunc(v->get_double()) == v->get_double()) {
    const double d = v->get_double();
    value = d > kMaxTokensLimit ? kMaxTokensLimit + 1 : static_cast<long>(d);
  } else {
    return wrongType(param, "an integer", *v);
  }
  if (value < 1) {
    return badRequest("Invalid '" + param + "': must be at least 1.", param, "invalid_value");
  }
  if (value > kMaxTokensLimit) {
    return badRequest("Invalid '" + param + "': at most " + std::to_string(kMaxTokensLimit) +
                          " tokens can be requested.",
                      param, "invalid_value");
  }
  out = value;
  return std::nullopt;
}

bool validToolName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

namespace {

// A tool's parameter schema: a JSON object whose `type`, when given, is "object" and whose
// `properties`, when given, are an object.
std::optional<ApiError> checkToolSchema(const json::value& schema, const std::string& param) {
  const json::object* o = schema.if_object();
  if (!o) return wrongType(param, "an object", schema);
  if (const json::value* type = o->if_contains("type")) {
    if (!type->is_string() || type->get_string() != "object")
      return badRequest("Invalid schema for '" + param + "': its 'type' must be 'object'.",
                        param + ".type", "invalid_value");
  }
  if (const json::value* props = o->if_contains("properties"); props && !props->is_object())
    return wrongType(param + ".properties", "an object", *props);
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> readTool(const json::object& fields, const std::string& at,
                                 std::string_view schemaKey, bool schemaRequired,
                                 std::vector<conversation::Tool>& tools, size_t& bytes) {
  const json::value* name = fields.if_contains("name");
  if (!name || name->is_null()) return missing(at + ".name");
  if (!name->is_string()) return wrongType(at + ".name", "a string", *name);
  if (!validToolName(name->get_string()))
    return badRequest("Invalid '" + at + ".name': '" +
                          std::string(name->get_string()).substr(0, 80) +
                          "' must be 1 to 64 letters, digits, '_' or '-'.",
                      at + ".name", "invalid_value");
  conversation::Tool t;
  t.name = name->get_string();
  for (const auto& earlier : tools)
    if (earlier.name == t.name)
      return badRequest("Two tools are named '" + t.name + "'.", at + ".name", "invalid_value");
  if (const json::value* d = optionalField(fields, "description")) {
    if (!d->is_string()) return wrongType(at + ".description", "a string", *d);
    t.description = d->get_string();
  }
  const std::string schemaParam = at + "." + std::string(schemaKey);
  if (const json::value* schema = optionalField(fields, schemaKey)) {
    if (auto err = checkToolSchema(*schema, schemaParam)) return err;
    t.parameters = json::serialize(*schema);
  } else if (schemaRequired) {
    return missing(schemaParam);
  }
  bytes += t.name.size() + t.description.size() + t.parameters.size();
  if (bytes > kMaxToolBytes)
    return badRequest("The tools' names, descriptions and schemas together exceed " +
                          std::to_string(kMaxToolBytes) + " bytes.",
                      "tools", "tools_too_large");
  tools.push_back(std::move(t));
  return std::nullopt;
}

std::optional<ApiError> readToolList(const json::object& root, const ToolReader& each) {
  const json::value* v = optionalField(root, "tools");
  if (!v) return std::nullopt;
  if (!v->is_array()) return wrongType("tools", "an array", *v);
  const json::array& tools = v->get_array();
  if (tools.size() > kMaxTools)
    return badRequest("'tools' holds " + std::to_string(tools.size()) + " tools; at most " +
                          std::to_string(kMaxTools) + " are accepted.",
                      "tools", "too_many_tools");
  size_t bytes = 0;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const json::object* tool = tools[i].if_object();
    if (!tool) return wrongType(at, "an object", tools[i]);
    if (auto err = each(*tool, at, bytes)) return err;
  }
  return std::nullopt;
}

}  // namespace api
