#include "http/respond.h"

#include "api/anthropic_request.h"

namespace http {

void respondError(Exchange& exchange, const api::ApiError& error) {
  Headers extra;
  if (error.retryAfterSeconds > 0)
    extra.emplace_back("Retry-After", std::to_string(error.retryAfterSeconds));
  exchange.respond(error.status, "application/json", error.json(), extra);
}

void respondAnthropicError(Exchange& exchange, const api::ApiError& error) {
  Headers extra;
  if (error.retryAfterSeconds > 0)
    extra.emplace_back("Retry-After", std::to_string(error.retryAfterSeconds));
  auto [status, body] = api::anthropicErrorJson(error);
  exchange.respond(status, "application/json", std::move(body), extra);
}

void respondJson(Exchange& exchange, int status, std::string body) {
  exchange.respond(status, "application/json", std::move(body));
}

}  // namespace http
