// Reading a request's JSON fields the way both client surfaces do (OpenAI chat, Anthropic
// messages): the 400 that names the field and says what it should have been.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/error.h"
#include "conversation/conversation.h"

namespace api {

// "null", "a boolean", "an integer", "a number", "a string", "an array", "an object".
std::string_view kindName(const boost::json::value& v);
ApiError wrongType(const std::string& param, std::string_view expected,
                   const boost::json::value& got);
ApiError missing(const std::string& param);

// Fields that may be absent or null alike: both mean "not given".
const boost::json::value* optionalField(const boost::json::object& obj, std::string_view key);

std::optional<ApiError> readBool(const boost::json::object& obj, std::string_view key,
                                 const std::string& param, bool& out);
// A token limit: an integer from 1 to kMaxTokensLimit.
std::optional<ApiError> readMaxTokens(const boost::json::object& obj, std::string_view key,
                                      std::optional<long>& out);

// A function name as SPEC §10 allows it: 1 to 64 of [A-Za-z0-9_-].
bool validToolName(std::string_view name);

// Bounds on what a request may declare: tools, and their names, descriptions and schemas
// together, in bytes. Beyond them the request is a 400, never a slow one.
inline constexpr size_t kMaxTools = 1024;
inline constexpr size_t kMaxToolBytes = 4 * 1024 * 1024;

// One declared tool, read from `fields` (OpenAI's `function` object or an Anthropic tool): its
// `name`, optional `description` and the schema under `schemaKey` (required or not), each
// error naming `at` + the field. Checks the name, that it is new, the schema's shape, and the
// bytes all tools take so far (`bytes`, kept by the caller) against kMaxToolBytes.
std::optional<ApiError> readTool(const boost::json::object& fields, const std::string& at,
                                 std::string_view schemaKey, bool schemaRequired,
                                 std::vector<conversation::Tool>& tools, size_t& bytes);

// Walks the request's `tools` (absent: none): an array of at most kMaxTools objects, each
// handed to `each` with its parameter name ("tools[i]") and the running byte count readTool
// keeps.
using ToolReader = std::function<std::optional<ApiError>(const boost::json::object& tool,
                                                         const std::string& at, size_t& bytes)>;
std::optional<ApiError> readToolList(const boost::json::object& root, const ToolReader& each);

}  // namespace api
