#include "upstream/curl_tunnel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <thread>
#include <vector>

#include "upstream/curl_error.h"

namespace upstream {
namespace {

// A few threads for the blocking connects; a burst of sessions queues here, each bounded by
// the connect timeout.
class Connector {
 public:
  static Connector& instance() {
    // Never destroyed: its threads may still be connecting when the process exits.
    static Connector* connector = new Connector(4);
    return *connector;
  }

  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  explicit Connector(int threads) {
    for (int i = 0; i < threads; ++i) std::thread([this] { work(); }).detach();
  }

  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

}  // namespace

void TunnelMailbox::deliver(TunnelResult result) {
  std::lock_guard lock(mutex_);
  if (io_ == nullptr) return;  // the session is gone: the handle is released here
  auto shared = std::make_shared<TunnelResult>(std::move(result));
  boost::asio::post(*io_, [done = done_, shared]() { done(std::move(*shared)); });
}

void TunnelMailbox::close() {
  std::lock_guard lock(mutex_);
  io_ = nullptr;
  done_ = nullptr;
}

void openTunnel(std::string target, std::string proxyUrl, std::chrono::milliseconds timeout,
                std::shared_ptr<TunnelMailbox> mailbox) {
  ensureCurlInitialized();
  Connector::instance().submit([target = std::move(target), proxyUrl = std::move(proxyUrl),
                                timeout, mailbox = std::move(mailbox)] {
    TunnelResult result;
    EasyHandle easy(curl_easy_init());
    if (!easy) {
      result.error = ErrorKind::kOther;
      result.message = "could not set up the proxy tunnel (out of memory)";
      mailbox->deliver(std::move(result));
      return;
    }
    char errorBuffer[CURL_ERROR_SIZE] = {};
    CURL* e = easy.get();
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errorBuffer);
    curl_easy_setopt(e, CURLOPT_URL, target.c_str());
    curl_easy_setopt(e, CURLOPT_PROXY, proxyUrl.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);  // CONNECT even for a plain ws:// target
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // The WebSocket upgrade is HTTP/1.1: no ALPN offer of h2 to the backend.
    curl_easy_setopt(e, CURLOPT_SSL_ENABLE_ALPN, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, long{CURL_HTTP_VERSION_1_1});
    const CURLcode code = curl_easy_perform(e);
    if (code != CURLE_OK) {
      long connectCode = 0;
      curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE, &connectCode);
      result.error = classifyCurlError(code, FailureContext{true, false, connectCode});
      // The error text names the target or the proxy's host, never its credentials.
      result.message = std::string("the proxy tunnel failed: ") +
                       (errorBuffer[0] != '\0' ? errorBuffer : curl_easy_strerror(code));
      if (connectCode != 0) result.message += " (the proxy answered " + std::to_string(connectCode) + ")";
    } else {
      result.easy = std::move(easy);
    }
    mailbox->deliver(std::move(result));
  });
}

bool CurlTunnel::adopt(EasyHandle easy) {
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(easy.get(), CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
      fd == CURL_SOCKET_BAD)
    return false;
  const int copy = ::dup(fd);
  if (copy < 0) return false;
  boost::system::error_code ec;
  socket_.assign(boost::asio::ip::tcp::v4(), copy, ec);
  if (ec) {
    ::close(copy);
    return false;
  }
  easy_ = std::move(easy);
  return true;
}

void CurlTunnel::close() {
  if (socket_.is_open()) {
    boost::system::error_code ec;
    // The duplicate shares the connection: shutting it down ends it for the peer at once.
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  easy_.reset();  // curl closes its own descriptor (and its TLS) here
}

boost::beast::error_code CurlTunnel::tryRecv(void* data, size_t size, size_t& n) {
  n = 0;
  const CURLcode code = curl_easy_recv(easy_.get(), data, size, &n);
  if (code == CURLE_AGAIN) return boost::asio::error::would_block;
  if (code != CURLE_OK) return boost::asio::error::connection_reset;
  if (n == 0) return boost::asio::error::eof;
  return {};
}

boost::beast::error_code CurlTunnel::trySend(const void* data, size_t size, size_t& n) {
  n = 0;
  const CURLcode code = curl_easy_send(easy_.get(), data, size, &n);
  if (code == CURLE_AGAIN) return boost::asio::error::would_block;
  if (code != CURLE_OK) return boost::asio::error::connection_reset;
  return {};
}

void teardown(boost::beast::role_type, CurlTunnel& stream, boost::beast::error_code& ec) {
  stream.close();
  ec = {};
}

}  // namespace upstream
