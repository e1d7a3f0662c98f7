// A byte stream to the command backend through PROXY_URL (SPEC §9), for the WebSocket client:
// libcurl opens the connection (CURLOPT_CONNECT_ONLY: the proxy's CONNECT or SOCKS5 handshake,
// its TLS for an https:// proxy, its authentication, and the TLS to the backend for wss://),
// and the stream then moves bytes with curl_easy_send / curl_easy_recv, waiting on the socket's
// readiness in Asio. No proxy handshake is written here. Internal to upstream/ws_client.cpp.
//
// The connect itself is curl_easy_perform (blocking), so it runs on a small pool of helper
// threads and its result is posted to the session's io_context; the session owns the handle from
// then on and every send, receive and wait happens on its thread.
#pragma once

#include <curl/curl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "upstream/client.h"
#include "upstream/curl_handles.h"

namespace upstream {

struct TunnelResult {
  EasyHandle easy;  // set when the tunnel is open
  ErrorKind error = ErrorKind::kNone;
  std::string message;  // never holds the proxy's credentials
};

// Where a connect's result goes; close() (on the session's thread) drops a late result.
class TunnelMailbox {
 public:
  TunnelMailbox(boost::asio::io_context& io, std::function<void(TunnelResult)> done)
      : io_(&io), done_(std::move(done)) {}
  void deliver(TunnelResult result);  // any thread
  void close();                       // the session's thread

 private:
  std::mutex mutex_;
  boost::asio::io_context* io_;
  std::function<void(TunnelResult)> done_;
};

// Connects to `target` (http://host:port for ws://, https://host:port for wss://: curl then
// speaks TLS with the backend, checking its certificate) through `proxyUrl`.
void openTunnel(std::string target, std::string proxyUrl, std::chrono::milliseconds timeout,
                std::shared_ptr<TunnelMailbox> mailbox);

class CurlTunnel {
 public:
  using executor_type = boost::asio::any_io_executor;

  explicit CurlTunnel(boost::asio::io_context& io) : socket_(io) {}
  ~CurlTunnel() { close(); }
  CurlTunnel(const CurlTunnel&) = delete;
  CurlTunnel& operator=(const CurlTunnel&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }

  // Takes an open tunnel; false (and the handle released) when its socket cannot be watched.
  bool adopt(EasyHandle easy);
  // Ends the connection now; pending operations complete with operation_aborted.
  void close();

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return transfer<true>(buffers, std::forward<Token>(token));
  }
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return transfer<false>(buffers, std::forward<Token>(token));
  }

 private:
  // One curl_easy_recv / curl_easy_send; would_block when the socket is not ready.
  boost::beast::error_code tryRecv(void* data, size_t size, size_t& n);
  boost::beast::error_code trySend(const void* data, size_t size, size_t& n);

  // Tries at once; waits for readiness only after curl says CURLE_AGAIN (TLS may hold bytes
  // the socket no longer shows). Never completes inside the initiating call.
  template <bool kRead, typename Buffers, typename Token>
  auto transfer(const Buffers& buffers, Token&& token) {
    enum class Step { kStart, kWaited, kPosted };
    return boost::asio::async_compose<Token, void(boost::beast::error_code, size_t)>(
        [this, buffers, step = Step::kStart, result = boost::beast::error_code(),
         done = size_t{0}](auto& self, boost::beast::error_code ec = {}) mutable {
          if (step == Step::kPosted) return self.complete(result, done);
          if (step == Step::kWaited && ec) return self.complete(ec, 0);
          if (easy_ == nullptr) {
            result = boost::asio::error::bad_descriptor;
          } else {
            auto it = boost::asio::buffer_sequence_begin(buffers);
            const auto end = boost::asio::buffer_sequence_end(buffers);
            while (it != end && boost::asio::buffer(*it).size() == 0) ++it;
            done = 0;
            result = {};
            if (it != end) {
              const auto b = boost::asio::buffer(*it);
              if constexpr (kRead)
                result = tryRecv(b.data(), b.size(), done);
              else
                result = trySend(b.data(), b.size(), done);
            }
            if (result == boost::asio::error::would_block) {
              step = Step::kWaited;
              socket_.async_wait(kRead ? boost::asio::ip::tcp::socket::wait_read
                                       : boost::asio::ip::tcp::socket::wait_write,
                                 std::move(self));
              return;
            }
          }
          if (step == Step::kWaited) return self.complete(result, done);
          step = Step::kPosted;
          boost::asio::post(socket_.get_executor(), std::move(self));
        },
        token, socket_);
  }

  boost::asio::ip::tcp::socket socket_;  // a duplicate of curl's socket: readiness waits only
  EasyHandle easy_;
};

// What Beast calls to close the connection at once (a timeout, a failed handshake).
inline void beast_close_socket(CurlTunnel& stream) { stream.close(); }

// What Beast's websocket stream calls to close the connection under it.
void teardown(boost::beast::role_type role, CurlTunnel& stream, boost::beast::error_code& ec);

template <typename TeardownHandler>
void async_teardown(boost::beast::role_type, CurlTunnel& stream, TeardownHandler&& handler) {
  stream.close();
  boost::asio::post(stream.get_executor(),
                    [handler = std::forward<TeardownHandler>(handler)]() mutable {
                      handler(boost::beast::error_code{});
                    });
}

}  // namespace upstream
