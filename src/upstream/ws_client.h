// A WebSocket client for the command backend (SPEC.md §9): Boost.Beast's websocket over TCP, or
// over TLS for wss://, on the worker's io_context. One session = one socket: connect (within
// the connect timeout, the upgrade included), then text frames both ways. The server's frames
// reach onFrame in order; returning Flow::kPause stops reading the socket until resume() (a
// slow client stops the backend, not a buffer). Beast sends pings while the server is quiet and
// answers the server's. A frame-level deadline fails the session: the first-byte timeout from
// the upgrade or a send to the next frame, the idle timeout between frames. cancel() closes the
// socket at once and calls nothing more. Every call and callback is on the io_context's thread.
// With a proxy, libcurl opens the connection (and the TLS for wss://) and hands it over.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/client.h"

namespace boost::asio {
class io_context;
}

namespace upstream {

struct WsOptions {
  std::chrono::milliseconds connectTimeout{10000};     // TCP + TLS + upgrade
  std::chrono::milliseconds firstByteTimeout{120000};  // upgrade or send → the next frame
  std::chrono::milliseconds idleTimeout{60000};        // longest silence between frames
  size_t maxFrameBytes = 4 * 1024 * 1024;              // a bigger message fails the session
  // PROXY_URL: empty, direct; else the session runs through a tunnel libcurl opens
  // (upstream/curl_tunnel.h): http://, https://, socks5://, socks5h://, with user:pass@.
  std::string proxyUrl;
};

struct WsRequest {
  std::string url;                   // ws://host[:port]/path?query or wss://…
  std::vector<std::string> headers;  // "Name: value", on the upgrade request
};

struct WsResult {
  ErrorKind error = ErrorKind::kNone;  // kNone: the server closed the socket
  int status = 0;       // the HTTP status of a refused upgrade, else 0 (101 when it opened)
  int closeCode = 0;    // the server's close code, when it sent one
  std::string message;  // human-readable, never holds secrets
};

struct WsHandlers {
  std::function<void()> onOpen;                         // the upgrade succeeded
  std::function<Flow(std::string_view frame)> onFrame;  // each server text frame
  std::function<void(const WsResult& result)> onDone;   // exactly once, unless cancelled
};

class WsClient;

// A running session. Copyable; operations on a finished session do nothing.
class WsHandle {
 public:
  WsHandle() = default;
  void send(std::string frame);  // queued; frames leave in order
  void cancel();                 // close now; onDone is not called
  void resume();                 // after onFrame returned Flow::kPause
  bool active() const;

  struct State;  // the session behind the handle (ws_client.cpp)

 private:
  friend class WsClient;
  explicit WsHandle(std::weak_ptr<State> state) : state_(std::move(state)) {}
  std::weak_ptr<State> state_;
};

class WsClient {
 public:
  WsClient(boost::asio::io_context& io, WsOptions options);
  ~WsClient();  // cancels every session without calling handlers
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  WsHandle start(WsRequest request, WsHandlers handlers);

  struct Impl;  // the sessions and the TLS context (ws_client.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace upstream
