// Small helpers for handlers: an OpenAI-shaped error or a JSON body as the whole response.
#pragma once

#include <string>

#include "api/error.h"
#include "http/exchange.h"

namespace http {

// The error as JSON with its status; 429 carries Retry-After.
void respondError(Exchange& exchange, const api::ApiError& error);

// The same error in Anthropic's shape and status (api::anthropicErrorJson).
void respondAnthropicError(Exchange& exchange, const api::ApiError& error);

void respondJson(Exchange& exchange, int status, std::string body);

}  // namespace http
