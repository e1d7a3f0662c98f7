// The relay's ChunkSink over an http Exchange: how a chat answer reaches the client connection.
#pragma once

#include <memory>

#include "http/exchange.h"
#include "relay/chunk_sink.h"

namespace http {

class ExchangeSink final : public relay::ChunkSink {
 public:
  // `anthropic`: errors in Anthropic's shape (the /v1/messages routes).
  explicit ExchangeSink(std::shared_ptr<Exchange> exchange, bool anthropic = false)
      : exchange_(std::move(exchange)), anthropic_(anthropic) {}

  void respondError(const api::ApiError& error) override;
  void respondJson(std::string body) override;
  void startStream() override;
  void write(std::string data) override { exchange_->write(std::move(data)); }
  void finish() override { exchange_->finish(); }
  size_t pendingBytes() const override { return exchange_->pendingBytes(); }
  void onDrained(std::function<void()> callback) override {
    exchange_->onDrained(std::move(callback));
  }
  bool clientGone() const override { return exchange_->clientGone(); }
  void onClientGone(std::function<void()> callback) override {
    exchange_->onClientGone(std::move(callback));
  }
  void noteModel(std::string_view model) override { exchange_->note().model = model; }
  void noteAccount(int64_t accountId) override {
    exchange_->note().account = std::to_string(accountId);
  }
  void noteTokens(int64_t prompt, int64_t completion) override {
    exchange_->note().promptTokens = prompt;
    exchange_->note().completionTokens = completion;
  }

 private:
  std::shared_ptr<Exchange> exchange_;
  bool anthropic_;
};

}  // namespace http
