// One request and its response on a connection, as handlers see it. A handler answers at once
// (respond) or later from callbacks on the same worker thread (respond, or startStream + write
// + finish for a streamed answer). Writes are queued; pendingBytes()/onDrained() let a producer
// follow the client's pace.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct RequestInfo {
  std::string method;
  std::string target;  // as sent: path and query
  // `body` and `headers` are there while the handler's handle() runs; the server releases them
  // when it returns, so an answer that streams for minutes does not keep them.
  std::string body;
  std::string clientIp;   // after TRUSTED_PROXIES
  std::string requestId;  // also sent as X-Request-Id
  Headers headers;        // lower-case names
  std::chrono::steady_clock::time_point started;

  std::string_view header(std::string_view lowerName) const;
};

// What the access log line and metrics record about the request, filled in by handlers.
struct AccessNote {
  std::string route = "other";  // metrics label: the route template
  std::string model;
  std::string account;  // account id, never a token
  std::string keyName;  // the client key's name (API_SECRET name:key), for usage
  int64_t promptTokens = -1;
  int64_t completionTokens = -1;
  std::string upstreamOutcome;
};

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual const RequestInfo& request() const = 0;
  virtual AccessNote& note() = 0;

  // A complete response; Content-Length is set from the body.
  virtual void respond(int status, std::string_view contentType, std::string body,
                       const Headers& extra = {}) = 0;

  // A streamed response (chunked transfer encoding).
  virtual void startStream(int status, std::string_view contentType, const Headers& extra = {}) = 0;
  virtual void write(std::string data) = 0;
  virtual void finish() = 0;

  // Bytes queued and not yet taken by the client's socket.
  virtual size_t pendingBytes() const = 0;
  // Called once when the queue next becomes empty.
  virtual void onDrained(std::function<void()> callback) = 0;

  // The client closed the connection (or the server is being forced down): stop work now.
  virtual bool clientGone() const = 0;
  virtual void onClientGone(std::function<void()> callback) = 0;

  virtual bool started() const = 0;  // the status line has been queued
};

// What the server calls for every request it has read completely.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(const std::shared_ptr<Exchange>& exchange) = 0;
};

}  // namespace http
