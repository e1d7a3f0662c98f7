// Which handler a request goes to: method + path (without query) under ROUTE_PREFIX → Route.
// /healthz, /readyz and /metrics are never prefixed; the OpenAI and admin routes always are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace http {

enum class RouteId {
  kHealthz,
  kReadyz,
  kMetrics,
  kModels,
  kChatCompletions,
  kMessages,            // POST /v1/messages (Anthropic)
  kCountTokens,         // POST /v1/messages/count_tokens (Anthropic)
  kAdminAccounts,       // GET list, POST add
  kAdminAccount,        // DELETE
  kAdminAccountEnable,  // POST
  kAdminAccountDisable,  // POST
  kAdminAccountTest,     // POST
  kAdminUsage,           // GET /admin/usage
  kAdminStats,           // GET /admin/stats (the console's charts)
  kAsset,                // GET a file served from the binary (/openapi.json, /docs, /console/…)
  kConsole,              // GET / (the console, or a short page without ADMIN_SECRET)
  kSwaggerRedirect,      // GET /swagger/index.html → /docs (as the original had it)
  kNotFound,
  kMethodNotAllowed,
};

struct Route {
  RouteId id = RouteId::kNotFound;
  int64_t accountId = 0;   // admin routes with {id}
  std::string allow;       // kMethodNotAllowed: the methods the path accepts
  std::string_view label;  // metrics label: the route template, never the raw path
  std::string_view asset;  // kAsset: the asset's path without ROUTE_PREFIX
};

Route route(std::string_view method, std::string_view target, std::string_view prefix);

// Splits "/path?query" → "/path".
std::string_view pathOf(std::string_view target);

}  // namespace http
