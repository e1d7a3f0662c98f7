#include "http/exchange_sink.h"

#include "http/respond.h"

namespace http {

void ExchangeSink::respondError(const api::ApiError& error) {
  if (anthropic_)
    http::respondAnthropicError(*exchange_, error);
  else
    http::respondError(*exchange_, error);
}

void ExchangeSink::respondJson(std::string body) {
  exchange_->respond(200, "application/json", std::move(body));
}

void ExchangeSink::startStream() {
  exchange_->startStream(200, "text/event-stream; charset=utf-8");
}

}  // namespace http
