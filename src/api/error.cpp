#include "api/error.h"

#include "api/chat_response.h"

namespace api {

std::string ApiError::json() const {
  std::string out;
  appendErrorJson(out, *this);  // repairs invalid UTF-8 from backend text
  return out;
}

ApiError badRequest(std::string message, std::optional<std::string> param,
                    std::optional<std::string> code) {
  return {400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
}

ApiError invalidApiKey() {
  return {401, "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'.",
          "invalid_request_error", std::nullopt, "invalid_api_key"};
}

ApiError ipBlocked() {
  return {403, "Your IP address is not allowed to use this service.", "permission_error",
          std::nullopt, "ip_blocked"};
}

ApiError notFound(std::string_view method, std::string_view path) {
  return {404, "Invalid URL (" + std::string(method) + " " + std::string(path) + ")",
          "invalid_request_error", std::nullopt, "not_found"};
}

ApiError methodNotAllowed(std::string_view method, std::string_view path) {
  return {405, "Method " + std::string(method) + " is not allowed for " + std::string(path),
          "invalid_request_error", std::nullopt, "method_not_allowed"};
}

ApiError bodyTooLarge(unsigned long long limit) {
  return {413, "Request body is larger than the limit of " + std::to_string(limit) + " bytes.",
          "invalid_request_error", std::nullopt, "request_too_large"};
}

ApiError rateLimited(int retryAfterSeconds) {
  return {429,
          "Rate limit reached for your IP address; retry in " + std::to_string(retryAfterSeconds) +
              " s.",
          "rate_limit_error",
          std::nullopt,
          "rate_limit_exceeded",
          retryAfterSeconds};
}

ApiError badGateway(std::string message) {
  return {502, std::move(message), "upstream_error", std::nullopt, "bad_gateway"};
}

ApiError noAccount(std::string message) {
  return {503, std::move(message), "service_unavailable", std::nullopt, "no_available_account"};
}

ApiError gatewayTimeout(std::string message) {
  return {504, std::move(message), "upstream_error", std::nullopt, "upstream_timeout"};
}

ApiError internalError(std::string message) {
  return {500, std::move(message), "server_error", std::nullopt, "internal_error"};
}

}  // namespace api
