#include "http/router.h"

#include <charconv>

namespace http {
namespace {

struct Entry {
  std::string_view path;
  std::string_view methods;  // comma list
  RouteId id;
};

bool methodIn(std::string_view method, std::string_view methods) {
  size_t start = 0;
  while (start < methods.size()) {
    size_t comma = methods.find(',', start);
    if (comma == std::string_view::npos) comma = methods.size();
    if (methods.substr(start, comma - start) == method) return true;
    start = comma + 1;
  }
  return false;
}

Route match(std::string_view method, std::string_view methods, RouteId id, std::string_view label) {
  if (methodIn(method, methods)) return {id, 0, "", label};
  std::string allow;
  for (char c : methods) allow += c == ',' ? std::string(", ") : std::string(1, c);
  return {RouteId::kMethodNotAllowed, 0, allow, label};
}

}  // namespace

std::string_view pathOf(std::string_view target) { return target.substr(0, target.find('?')); }

Route route(std::string_view method, std::string_view target, std::string_view prefix) {
  std::string_view path = pathOf(target);
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);

  if (path == "/healthz") return match(method, "GET,HEAD", RouteId::kHealthz, "/healthz");
  if (path == "/readyz") return match(method, "GET,HEAD", RouteId::kReadyz, "/readyz");
  if (path == "/metrics") return match(method, "GET", RouteId::kMetrics, "/metrics");

  if (!prefix.empty()) {
    if (path.substr(0, prefix.size()) != prefix ||
        (path.size() > prefix.size() && path[prefix.size()] != '/'))
      return {RouteId::kNotFound, 0, "", "other"};
    path.remove_prefix(prefix.size());
  }
  if (path.empty() || path == "/") return match(method, "GET,HEAD", RouteId::kConsole, "/");
  if (path == "/swagger/index.html" || path == "/swagger")
    return match(method, "GET,HEAD", RouteId::kSwaggerRedirect, "/swagger/index.html");
  if (path == "/openapi.json" || path == "/docs" || path.substr(0, 6) == "/docs/" ||
      path.substr(0, 9) == "/console/") {
    Route r = match(method, "GET,HEAD", RouteId::kAsset, "/assets");
    r.asset = path;
    return r;
  }
  if (path == "/v1/models") return match(method, "GET", RouteId::kModels, "/v1/models");
  if (path == "/v1/chat/completions")
    return match(method, "POST", RouteId::kChatCompletions, "/v1/chat/completions");
  if (path == "/v1/messages") return match(method, "POST", RouteId::kMessages, "/v1/messages");
  if (path == "/v1/messages/count_tokens")
    return match(method, "POST", RouteId::kCountTokens, "/v1/messages/count_tokens");
  if (path == "/admin/accounts")
    return match(method, "GET,POST", RouteId::kAdminAccounts, "/admin/accounts");
  if (path == "/admin/usage") return match(method, "GET", RouteId::kAdminUsage, "/admin/usage");
  if (path == "/admin/stats") return match(method, "GET", RouteId::kAdminStats, "/admin/stats");

  constexpr std::string_view kAccountPrefix = "/admin/accounts/";
  if (path.substr(0, kAccountPrefix.size()) == kAccountPrefix) {
    std::string_view rest = path.substr(kAccountPrefix.size());
    std::string_view idText = rest.substr(0, rest.find('/'));
    std::string_view tail = rest.substr(idText.size());
    int64_t id = 0;
    auto [end, ec] = std::from_chars(idText.data(), idText.data() + idText.size(), id);
    if (ec != std::errc() || end != idText.data() + idText.size() || id <= 0)
      return {RouteId::kNotFound, 0, "", "other"};
    Route r;
    if (tail.empty())
      r = match(method, "DELETE", RouteId::kAdminAccount, "/admin/accounts/{id}");
    else if (tail == "/enable")
      r = match(method, "POST", RouteId::kAdminAccountEnable, "/admin/accounts/{id}/enable");
    else if (tail == "/disable")
      r = match(method, "POST", RouteId::kAdminAccountDisable, "/admin/accounts/{id}/disable");
    else if (tail == "/test")
      r = match(method, "POST", RouteId::kAdminAccountTest, "/admin/accounts/{id}/test");
    else
      return {RouteId::kNotFound, 0, "", "other"};
    r.accountId = id;
    return r;
  }
  return {RouteId::kNotFound, 0, "", "other"};
}

}  // namespace http
