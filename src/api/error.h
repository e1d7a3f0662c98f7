// The OpenAI error shape: {"error":{"message":…,"type":…,"param":…,"code":…}} and the status,
// type and code that go with each failure the gateway reports.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace api {

struct ApiError {
  int status = 500;
  std::string message;
  std::string type;                  // e.g. invalid_request_error
  std::optional<std::string> param;  // null when absent
  std::optional<std::string> code;   // null when absent
  int retryAfterSeconds = 0;         // 429: sent as Retry-After

  std::string json() const;  // the body
};

ApiError badRequest(std::string message, std::optional<std::string> param = std::nullopt,
                    std::optional<std::string> code = std::nullopt);
ApiError invalidApiKey();
ApiError ipBlocked();
ApiError notFound(std::string_view method, std::string_view path);
ApiError methodNotAllowed(std::string_view method, std::string_view path);
ApiError bodyTooLarge(unsigned long long limit);
ApiError rateLimited(int retryAfterSeconds);
ApiError badGateway(std::string message);
ApiError noAccount(std::string message);
ApiError gatewayTimeout(std::string message);
ApiError internalError(std::string message);

}  // namespace api
