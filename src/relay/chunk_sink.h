// Where one chat answer goes: the http room implements this over a client connection. Every call
// happens on the worker thread that owns the connection. Nothing is sent before respond* or
// startStream; after clientGone() the calls do nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "api/error.h"

namespace relay {

class ChunkSink {
 public:
  virtual ~ChunkSink() = default;

  virtual void respondError(const api::ApiError& error) = 0;
  virtual void respondJson(std::string body) = 0;  // 200 application/json

  virtual void startStream() = 0;  // 200 text/event-stream
  virtual void write(std::string data) = 0;
  virtual void finish() = 0;

  virtual size_t pendingBytes() const = 0;
  virtual void onDrained(std::function<void()> callback) = 0;
  virtual bool clientGone() const = 0;
  virtual void onClientGone(std::function<void()> callback) = 0;

  // For the access log: model, account and token counts of this request.
  virtual void noteModel(std::string_view model) = 0;
  virtual void noteAccount(int64_t accountId) = 0;
  virtual void noteTokens(int64_t prompt, int64_t completion) = 0;
};

}  // namespace relay
