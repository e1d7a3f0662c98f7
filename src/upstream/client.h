// The backend HTTP client: libcurl's multi interface driven by one Asio io_context (one Client
// per worker thread, one for the control thread). Response bodies stream to a callback as they
// arrive; a transfer can be paused (slow client), resumed and cancelled (client gone). Every
// call and every callback happens on the io_context's thread; nothing blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace upstream {

struct Options {
  std::string proxyUrl;  // empty: direct; http://, https://, socks5://, socks5h:// [user:pass@]
  std::chrono::milliseconds connectTimeout{10000};     // TCP + TLS + proxy handshake
  std::chrono::milliseconds firstByteTimeout{120000};  // request sent → first response byte
  std::chrono::milliseconds idleTimeout{60000};        // longest silence between body bytes
  uint64_t maxBodyBytes = 64ull * 1024 * 1024;         // decoded bytes; beyond: kTooLarge
  // libcurl's receive buffer per transfer (CURLOPT_BUFFERSIZE; curl's default is 16 KB, its
  // minimum 1 KB). Backend events are ~120 bytes and a held stream keeps its buffer for its
  // whole life, so a small one saves memory per stream; a burst just takes a few more reads.
  long receiveBufferBytes = 2048;
};

struct Request {
  std::string url;
  std::string method = "POST";
  std::vector<std::string> headers;  // "Name: value"
  // Shared, never copied: a caller that may send the same body again (failover to another
  // account) keeps one copy for every attempt. Null: no body.
  std::shared_ptr<const std::string> body;
  bool acceptCompressed = true;  // ask for gzip/br; onData always sees decoded bytes
};

enum class ErrorKind {
  kNone,     // the response arrived completely (any HTTP status)
  kConnect,  // DNS, refused, reset before a response
  kTls,
  kProxy,  // the proxy refused or could not be reached
  kConnectTimeout,
  kFirstByteTimeout,
  kIdleTimeout,
  kTooLarge,  // decoded body beyond Options::maxBodyBytes
  kProtocol,  // malformed HTTP, bad compression, connection closed mid-body
  kOther,
};

struct Result {
  ErrorKind error = ErrorKind::kNone;
  int status = 0;       // HTTP status when headers arrived, else 0
  std::string message;  // human-readable, never holds secrets
};

enum class Flow { kContinue, kPause };

// Handlers may call start(), cancel() and resume() on this Client, and may destroy the Client;
// the Client defers whatever curl forbids inside its callbacks. resume() acts from the loop, so
// onData never runs inside a resume() call.
struct Handlers {
  // Each response header line as it arrives (name as sent, value trimmed); optional.
  std::function<void(std::string_view name, std::string_view value)> onHeader;
  std::function<void(int status)> onStatus;            // once, when headers are complete
  std::function<Flow(std::string_view bytes)> onData;  // decoded body bytes, in order
  std::function<void(const Result& result)> onDone;    // exactly once, unless cancelled
};

class Client;

// A running transfer. Copyable; operations on a finished transfer do nothing.
class TransferHandle {
 public:
  TransferHandle() = default;
  void cancel();  // abort now: the connection is closed, onDone is not called
  void resume();  // after onData returned Flow::kPause
  bool active() const;

 private:
  friend class Client;
  struct State;
  explicit TransferHandle(std::weak_ptr<State> state) : state_(std::move(state)) {}
  std::weak_ptr<State> state_;
};

class Client {
 public:
  Client(boost::asio::io_context& io, Options options);
  ~Client();  // aborts every transfer without calling handlers
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  TransferHandle start(Request request, Handlers handlers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "Timed out waiting for the backend's first byte" and the like, for logs and errors.
std::string_view describe(ErrorKind kind);

}  // namespace upstream
