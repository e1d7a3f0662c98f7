#include "http/server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/container/static_vector.hpp>
#include <cstdio>
#include <iterator>
#include <list>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api/error.h"
#include "obs/metrics.h"
#include "obs/stats.h"
#include "obs/secrets.h"

namespace http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string_view RequestInfo::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers)
    if (name == lowerName) return value;
  return {};
}

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Read sizes. A chat request is usually well under 2 KB, and Beast grows the buffer itself for
// a bigger one. While a response streams the session only waits for the socket to become
// readable (the client leaving, or pipelining) and reads then: an open stream holds no read
// buffer (a malloc per request, against 2 KB kept by every open stream).
constexpr size_t kIdleReadBytes = 2048;
// The most a request's body is read at a time (Beast reads at most 64 KB a call anyway).
constexpr uint64_t kBodyReadBytes = 64 * 1024;
constexpr size_t kWatchReadBytes = 512;
// Queued writes sent in one gathered write (three buffers each: an iovec array of 48).
constexpr size_t kGatherWrites = 16;
// How long a closing connection keeps reading and discarding (nginx: lingering_time 30 s,
// lingering_timeout 5 s). A client that asked for the close closes its side at once.
constexpr auto kLingerTime = 5s;

std::string newRequestId(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t v = rng();
  for (auto& c : id) {
    c = kHex[v & 15];
    v >>= 4;
  }
  return id;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Headers every response carries: CORS for browser clients (NextChat, LobeChat) — except the
// admin API's and the console's, which answer their own origin only — and the id.
void commonHeaders(std::string& out, std::string_view requestId, bool keepAlive,
                   bool cors = true) {
  if (cors) out += "Access-Control-Allow-Origin: *\r\n";
  out += "X-Request-Id: ";
  out += requestId;
  out += "\r\n";
  out += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
}

// Routes (by their metrics label) that never answer another origin.
bool sameOriginOnly(std::string_view route) {
  return route.substr(0, 6) == "/admin" || route == "/" || route == "/assets";
}

void statusLine(std::string& out, int status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += std::string_view(beast::http::obsolete_reason(beast::http::int_to_status(status)));
  out += "\r\n";
}

}  // namespace

class Session;

// One request/response; detached from its session once the response is complete, so late
// calls from a handler's callbacks do nothing.
class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(std::shared_ptr<Session> session, RequestInfo info, bool keepAlive)
      : session_(std::move(session)), info_(std::move(info)), keepAlive_(keepAlive) {}

  const RequestInfo& request() const override { return info_; }
  AccessNote& note() override { return note_; }
  void respond(int status, std::string_view contentType, std::string body,
               const Headers& extra) override;
  void startStream(int status, std::string_view contentType, const Headers& extra) override;
  void write(std::string data) override;
  void finish() override;
  size_t pendingBytes() const override;
  void onDrained(std::function<void()> callback) override { drained_ = std::move(callback); }
  bool clientGone() const override { return gone_; }
  void onClientGone(std::function<void()> callback) override {
    if (gone_) {
      if (callback) callback();
      return;
    }
    goneCallback_ = std::move(callback);
  }
  bool started() const override { return status_ != 0; }

  bool responded() const { return finished_; }
  const AccessNote& accessNote() const { return note_; }
  bool keepAlive() const { return keepAlive_; }
  int status() const { return status_; }

  // From the session.
  void markGone() {
    if (gone_) return;
    gone_ = true;
    if (auto cb = std::move(goneCallback_)) cb();
  }
  void notifyDrained() {
    if (auto cb = std::move(drained_)) cb();
  }
  // After the handler's handle() returned (see RequestInfo).
  void releaseRequestData() {
    std::string().swap(info_.body);
    Headers().swap(info_.headers);
  }
  void detach() {
    drained_ = nullptr;
    goneCallback_ = nullptr;
    session_.reset();
  }

 private:
  std::shared_ptr<Session> session_;
  RequestInfo info_;
  AccessNote note_;
  bool keepAlive_;
  int status_ = 0;
  bool streaming_ = false;
  bool finished_ = false;
  bool gone_ = false;
  std::function<void()> drained_;
  std::function<void()> goneCallback_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Worker& worker);

  asio::awaitable<void> run();

  // Graceful stop: a connection between requests is closed now; a busy one after its response.
  void stopWhenIdle() {
    stopping_ = true;
    if (idle_) closeSocket();
  }
  void forceClose() {
    stopping_ = true;
    if (exchange_) exchange_->markGone();
    closeSocket();
  }

  // For ExchangeImpl. queueChunk sends `data` as one chunk of a chunked body.
  void queue(std::string bytes, bool last);
  void queueChunk(std::string data);
  size_t pending() const { return pendingBytes_; }

 private:
  // A deadline closes the socket when it expires. Re-arming or disarming it makes a wait that
  // already expired, and whose handler is queued, do nothing: that handler checks the expiry.
  void armDeadline(asio::steady_timer& timer, std::chrono::steady_clock::duration d);
  static void disarm(asio::steady_timer& timer) {
    timer.expires_at(asio::steady_timer::time_point::max());
  }
  void closeSocket() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  void startWriting();
  void writeNext();
  void batchWritten();
  void writeFailed();
  void endExchange();
  void startWatch();
  void wake() {
    if (!waiting_) return;
    signal_.cancel();
  }
  asio::awaitable<std::shared_ptr<ExchangeImpl>> readRequest(bool first);
  asio::awaitable<void> waitForExchange();
  asio::awaitable<void> sendErrorAndClose(const api::ApiError& error);
  asio::awaitable<void> lingeringClose();
  // Status as counted and logged: an answer whose bytes did not all reach the socket is 499
  // (the client closed the request), whatever status line it started with.
  int outcomeStatus(const ExchangeImpl& ex) const;
  // Counters are taken once the final bytes are in the socket, in the same handler that wrote
  // them, so a client that has read its answer finds it counted by its next scrape; the access
  // line waits for the exchange to end.
  void recordMetrics(const ExchangeImpl& ex);
  void logAccess(const ExchangeImpl& ex);

  tcp::socket socket_;
  Worker& worker_;
  beast::flat_buffer buffer_;
  asio::steady_timer deadline_;
  asio::steady_timer writeDeadline_;
  asio::steady_timer signal_;
  std::string peer_;
  std::shared_ptr<ExchangeImpl> exchange_;
  // Bytes waiting to be written. A chunk's size line and CRLF are kept beside its data and
  // written with it as one buffer sequence: framing a streamed token copies nothing.
  struct Pending {
    std::string data;
    std::array<char, 20> head{};  // "<hex size>\r\n" of a chunk
    uint8_t headSize = 0;
    bool chunk = false;  // "\r\n" follows data
    size_t size() const { return headSize + data.size() + (chunk ? 2 : 0); }
  };
  // Vectors, not deques: an idle deque still holds a 512-byte block, for every held stream.
  // `inFlight_` is the batch the socket is writing. The kernel may read its bytes until the write
  // completes, so nothing is added to it or moved in it until then; what the handler queues
  // meanwhile goes to `queued_`. (One vector for both let a push reallocate it under a pending
  // write: a short string's bytes and a chunk's size line live inside the element, and the
  // socket then sent freed memory — cut, garbled streams under load.)
  std::vector<Pending> queued_;
  std::vector<Pending> inFlight_;
  size_t pendingBytes_ = 0;  // in queued_ and inFlight_
  uint64_t bytesSent_ = 0;   // this exchange's bytes the socket has taken
  bool writing_ = false;
  bool lastQueued_ = false;    // the exchange's final bytes are queued
  bool lastInFlight_ = false;  // ... and in the batch being written
  bool delivered_ = false;     // ... and all in the socket
  bool recorded_ = false;      // this exchange's metrics are counted
  bool exchangeDone_ = false;  // delivered, or the connection failed with no write in flight
  bool watching_ = false;
  bool waiting_ = false;
  bool idle_ = false;
  bool stopping_ = false;
  bool timedOut_ = false;
  bool broken_ = false;      // the socket failed or the client left: no more writes
  bool peerClosed_ = false;  // the client ended the connection between requests
};

class Worker {
 public:
  Worker(size_t index, ServerLimits limits, obs::Metrics& metrics,
         const Server::HandlerFactory& factory)
      : index_(index),
        limits_(limits),
        metrics_(metrics),
        shard_(metrics.shard(index)),
        acceptor_(io_),
        rng_(std::random_device{}() ^ (index * 0x9e3779b97f4a7c15ull)) {
    handler_ = factory(index, io_);
  }

  uint16_t listen(const std::string& host, uint16_t port) {
    beast::error_code ec;
    tcp::endpoint endpoint;
    if (!host.empty()) {
      endpoint = tcp::endpoint(asio::ip::make_address(host, ec), port);
      if (!ec) acceptor_.open(endpoint.protocol(), ec);
      if (!ec && endpoint.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
    } else {
      // Dual-stack [::] when the machine has IPv6, else 0.0.0.0.
      endpoint = tcp::endpoint(asio::ip::address_v6::any(), port);
      acceptor_.open(endpoint.protocol(), ec);
      if (!ec) acceptor_.set_option(asio::ip::v6_only(false), ec);
    }
    if (ec && host.empty()) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      endpoint = tcp::endpoint(asio::ip::address_v4::any(), port);
      acceptor_.open(endpoint.protocol(), ec);
    }
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = beast::error_code(errno, boost::system::system_category());
    }
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error((host.empty() ? "PORT: cannot listen on port "
                                             : "HOST, PORT: cannot listen on " + host + " port ") +
                               std::to_string(port) + ": " + ec.message());
    return acceptor_.local_endpoint().port();
  }

  void start() {
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      (void)guard;
      io_.run();
    });
  }

  // Runs on the worker's thread.
  void beginStop() {
    asio::post(io_, [this] {
      stopping_ = true;
      beast::error_code ec;
      acceptor_.close(ec);
      for (auto& weak : sessions_)
        if (auto s = weak.lock()) s->stopWhenIdle();
      maybeFinish();
    });
  }
  void forceStop() {
    asio::post(io_, [this] {
      for (auto& weak : sessions_)
        if (auto s = weak.lock()) s->forceClose();
      // Give the handlers' cancellations a moment to run, then end the loop.
      auto timer = std::make_shared<asio::steady_timer>(io_, 200ms);
      timer->async_wait([this, timer](auto) { io_.stop(); });
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool finished() const { return finished_.load(); }

  asio::io_context& io() { return io_; }
  Handler& handler() { return *handler_; }
  const ServerLimits& limits() const { return limits_; }
  obs::MetricsShard& shard() { return shard_; }
  obs::UsageLedger& usage() { return metrics_.usage(); }
  obs::Metrics& metrics() { return metrics_; }
  std::mt19937_64& rng() { return rng_; }
  bool stopping() const { return stopping_; }

  void sessionEnded() {
    --liveSessions_;
    maybeFinish();
  }

  ~Worker() {
    io_.stop();
    join();
    // Close what is left and let the aborted operations unwind while the handler (and the
    // upstream client it owns) still exists.
    for (auto& weak : sessions_)
      if (auto s = weak.lock()) s->forceClose();
    beast::error_code ec;
    acceptor_.close(ec);
    io_.restart();
    io_.poll();
    handler_.reset();
  }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        // EMFILE and friends: back off briefly instead of spinning.
        asio::steady_timer t(io_, 50ms);
        co_await t.async_wait(kUseTuple);
        continue;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      socket.non_blocking(true, ignored);  // for the watch's read after a readiness wait
      auto session = std::make_shared<Session>(std::move(socket), *this);
      // Forget ended sessions once the list has doubled since the last sweep: amortised O(1)
      // per accept. A sweep on every accept cost O(open connections) each, 13% of the CPU while
      // 5,000 held streams were being opened.
      if (sessions_.size() >= sweepAt_) {
        std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
        sweepAt_ = std::max<size_t>(64, 2 * sessions_.size());
      }
      sessions_.push_back(session);
      ++liveSessions_;
      asio::co_spawn(io_, session->run(), asio::detached);
    }
  }

  void maybeFinish() {
    if (!stopping_) return;
    if (liveSessions_ == 0 && !finished_.exchange(true)) io_.stop();
  }

  size_t index_;
  ServerLimits limits_;
  obs::Metrics& metrics_;
  obs::MetricsShard& shard_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::unique_ptr<Handler> handler_;
  std::list<std::weak_ptr<Session>> sessions_;
  size_t sweepAt_ = 64;
  size_t liveSessions_ = 0;
  std::mt19937_64 rng_;
  std::thread thread_;
  bool stopping_ = false;
  std::atomic<bool> finished_{false};
};

// ---- ExchangeImpl ----------------------------------------------------------------------------

void ExchangeImpl::respond(int status, std::string_view contentType, std::string body,
                           const Headers& extra) {
  if (!session_ || started()) return;
  status_ = status;
  finished_ = true;
  std::string out;
  out.reserve(256 + body.size());
  statusLine(out, status);
  out += "Content-Type: ";
  out += contentType;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  commonHeaders(out, info_.requestId, keepAlive_, !sameOriginOnly(note_.route));
  for (const auto& [name, value] : extra) out += name + ": " + value + "\r\n";
  out += "\r\n";
  if (spdlog::should_log(spdlog::level::debug))
    spdlog::debug("response id={} status={} body={}", info_.requestId, status,
                  obs::redactSecrets(std::string_view(body).substr(0, 64 * 1024)));
  if (info_.method != "HEAD") out += body;
  session_->queue(std::move(out), true);
}

void ExchangeImpl::startStream(int status, std::string_view contentType, const Headers& extra) {
  if (!session_ || started()) return;
  status_ = status;
  streaming_ = true;
  std::string out;
  statusLine(out, status);
  out += "Content-Type: ";
  out += contentType;
  out += "\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
  commonHeaders(out, info_.requestId, keepAlive_, !sameOriginOnly(note_.route));
  for (const auto& [name, value] : extra) out += name + ": " + value + "\r\n";
  out += "\r\n";
  session_->queue(std::move(out), false);
}

void ExchangeImpl::write(std::string data) {
  if (!session_ || !streaming_ || finished_ || data.empty()) return;
  session_->queueChunk(std::move(data));
}

void ExchangeImpl::finish() {
  if (!session_ || !streaming_ || finished_) return;
  finished_ = true;
  session_->queue("0\r\n\r\n", true);
}

size_t ExchangeImpl::pendingBytes() const { return session_ ? session_->pending() : 0; }

// ---- Session ---------------------------------------------------------------------------------

Session::Session(tcp::socket socket, Worker& worker)
    : socket_(std::move(socket)),
      worker_(worker),
      deadline_(socket_.get_executor()),
      writeDeadline_(socket_.get_executor()),
      signal_(socket_.get_executor()) {
  beast::error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) peer_ = endpoint.address().to_string();
}

void Session::armDeadline(asio::steady_timer& timer, std::chrono::steady_clock::duration d) {
  if (&timer == &deadline_) timedOut_ = false;
  timer.expires_after(d);
  timer.async_wait([weak = weak_from_this(), &timer](beast::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || timer.expiry() > asio::steady_timer::clock_type::now()) return;
    if (&timer == &self->deadline_) self->timedOut_ = true;
    self->closeSocket();
  });
}

namespace {

// Whether a request refused for its header size is refused for its URL: the parsed target when
// the request line was complete, else the unterminated request line still in the buffer.
bool targetTooLong(std::string_view target, const beast::flat_buffer& buffer, size_t limit) {
  if (!target.empty()) return target.size() > limit;
  const auto data = buffer.data();
  const std::string_view text(static_cast<const char*>(data.data()), data.size());
  return text.find("\r\n") == std::string_view::npos && text.size() > limit;
}

// A target longer than the limit is refused before routing: it is never echoed back or logged.
api::ApiError uriTooLong(uint32_t limit) {
  return {414, "The request URL is longer than the limit of " + std::to_string(limit) + " bytes.",
          "invalid_request_error", std::nullopt, "url_too_long"};
}

}  // namespace

// The loop that lives as long as the connection. Everything needed only while a request is read
// sits in readRequest()'s frame, which is gone before the answer starts: GCC gives every local
// of a coroutine its own slot in the frame, and a held stream keeps this frame for its life.
asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  bool first = true;
  for (;;) {
    if (stopping_ || worker_.stopping()) break;
    exchange_ = co_await readRequest(first);
    first = false;
    if (!exchange_) break;
    exchangeDone_ = false;
    lastQueued_ = false;
    lastInFlight_ = false;
    delivered_ = false;
    recorded_ = false;
    bytesSent_ = 0;
    worker_.handler().handle(exchange_);
    exchange_->releaseRequestData();
    if (!exchange_->responded() && !broken_) startWatch();
    co_await waitForExchange();
    recordMetrics(*exchange_);
    logAccess(*exchange_);
    exchange_->detach();
    const bool again = exchange_->keepAlive() && !broken_;
    exchange_.reset();
    if (!again) break;
  }
  disarm(writeDeadline_);
  // A connection that is still whole is closed the way nginx closes one: the client gets every
  // byte that was written, never a reset that destroys what it has not read yet.
  if (!broken_ && !timedOut_ && !peerClosed_ && socket_.is_open()) co_await lingeringClose();
  disarm(deadline_);
  closeSocket();
  worker_.sessionEnded();
}

// Half-close, then read and discard what the client still sends until it closes its side or
// kLingerTime passes. Closing a socket whose receive queue holds unread bytes makes the kernel
// send a reset instead of the end of the stream, and a reset can discard the answer's last bytes
// on their way into the client's socket (a 413 while the client still uploads, a client that
// pipelined its next request behind a `Connection: close` answer).
asio::awaitable<void> Session::lingeringClose() {
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  armDeadline(deadline_, kLingerTime);
  std::array<char, 512> discard;
  for (;;) {
    auto [readError, n] = co_await socket_.async_read_some(asio::buffer(discard), kUseTuple);
    if (readError) break;  // the client's end of the stream, a reset, or the deadline
  }
}

// The next request, or null when the connection should close (the client left, a timeout, or
// an error already answered).
asio::awaitable<std::shared_ptr<ExchangeImpl>> Session::readRequest(bool first) {
  const ServerLimits& limits = worker_.limits();
  if (buffer_.size() == 0) {
    idle_ = true;
    armDeadline(deadline_, first ? limits.headerTimeout : limits.keepAliveTimeout);
    auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kIdleReadBytes), kUseTuple);
    idle_ = false;
    if (ec || n == 0) {
      peerClosed_ = ec == asio::error::eof || ec == asio::error::connection_reset;
      co_return nullptr;
    }
    buffer_.commit(n);
  }
  // The whole request (headers and body) must arrive within the header timeout: a client
  // that trickles bytes cannot hold a connection open.
  armDeadline(deadline_, limits.headerTimeout);
  beast::http::request_parser<beast::http::string_body> parser;
  parser.header_limit(limits.maxHeaderBytes);
  parser.body_limit(limits.maxBodyBytes);
  auto [headerError, headerBytes] =
      co_await beast::http::async_read_header(socket_, buffer_, parser, kUseTuple);
  beast::error_code ec = headerError;
  if (!ec && !parser.is_done()) {
    // Beast reads a body into the buffer's free capacity (at least 512 bytes), which after the
    // headers is about a kilobyte: a 100 KB prompt took some fifty reads (recv calls and
    // wake-ups). Room for the body, up to kBodyReadBytes, makes it a few.
    if (const auto length = parser.content_length();
        length && *length > buffer_.capacity() - buffer_.size())
      buffer_.reserve(buffer_.size() +
                      static_cast<size_t>(std::min<uint64_t>(*length, kBodyReadBytes)));
    auto [bodyError, bodyBytes] =
        co_await beast::http::async_read(socket_, buffer_, parser, kUseTuple);
    ec = bodyError;
  }
  disarm(deadline_);
  if (ec) {
    if (ec == beast::http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      peerClosed_ = true;
      co_return nullptr;
    }
    if (timedOut_ || ec == asio::error::operation_aborted) co_return nullptr;
    if (ec == beast::http::error::body_limit) {
      co_await sendErrorAndClose(api::bodyTooLarge(limits.maxBodyBytes));
    } else if (ec == beast::http::error::header_limit &&
               targetTooLong(parser.get().target(), buffer_, limits.maxTargetBytes)) {
      co_await sendErrorAndClose(uriTooLong(limits.maxTargetBytes));
    } else if (ec == beast::http::error::header_limit) {
      api::ApiError e{431,
                      "Request headers are larger than the limit of " +
                          std::to_string(limits.maxHeaderBytes) + " bytes.",
                      "invalid_request_error", std::nullopt, "headers_too_large"};
      co_await sendErrorAndClose(e);
    } else {
      co_await sendErrorAndClose(
          api::badRequest("Malformed HTTP request: " + ec.message(), std::nullopt, "bad_request"));
    }
    co_return nullptr;
  }

  auto& req = parser.get();
  if (req.target().size() > limits.maxTargetBytes) {
    co_await sendErrorAndClose(uriTooLong(limits.maxTargetBytes));
    co_return nullptr;
  }
  RequestInfo info;
  info.method = std::string(req.method_string());
  info.target = std::string(req.target());
  info.started = std::chrono::steady_clock::now();
  info.requestId = newRequestId(worker_.rng());
  info.clientIp = peer_;
  for (const auto& field : req)
    info.headers.emplace_back(lower(field.name_string()), field.value());
  info.body = std::move(req.body());
  const bool keepAlive = req.keep_alive() && !stopping_ && !worker_.stopping();
  // Nothing pipelined behind this request: the read buffer is not kept while it is answered.
  if (buffer_.size() == 0) buffer_.shrink_to_fit();
  co_return std::make_shared<ExchangeImpl>(shared_from_this(), std::move(info), keepAlive);
}

asio::awaitable<void> Session::waitForExchange() {
  while (!(exchangeDone_ && !watching_)) {
    waiting_ = true;
    signal_.expires_at(asio::steady_timer::time_point::max());
    co_await signal_.async_wait(kUseTuple);
    waiting_ = false;
  }
}

asio::awaitable<void> Session::sendErrorAndClose(const api::ApiError& error) {
  std::string out;
  std::string body = error.json();
  statusLine(out, error.status);
  out +=
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  commonHeaders(out, "-", false);
  out += "\r\n" + body;
  worker_.shard().count("qodo2api_http_requests_total",
                        "route=\"other\",status=\"" + std::to_string(error.status) + "\"");
  armDeadline(deadline_, 5s);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), kUseTuple);
  disarm(deadline_);
  if (ec) broken_ = true;
  spdlog::info("access id=- ip={} status={} error=\"{}\"", peer_, error.status, error.message);
}

// While a handler works asynchronously, keep one read outstanding: it notices at once when the
// client goes away (so the backend transfer can be aborted) and keeps pipelined bytes.
void Session::startWatch() {
  if (watching_ || broken_) return;
  if (buffer_.size() >= worker_.limits().maxHeaderBytes) return;
  watching_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
    self->watching_ = false;
    size_t n = 0;
    if (!ec) {
      // Readable: bytes or the end of the stream. The socket is non-blocking (set at accept),
      // so a wake-up with nothing to read is would_block, and the watch goes on.
      n = self->socket_.read_some(self->buffer_.prepare(kWatchReadBytes), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        if (!self->exchangeDone_) self->startWatch();
        self->wake();  // the request loop may be waiting for the watch to end
        return;
      }
    }
    if (!ec && n > 0) {
      self->buffer_.commit(n);
      if (!self->exchangeDone_) self->startWatch();
    } else if (!self->exchangeDone_ || ec != asio::error::operation_aborted) {
      self->broken_ = true;
      if (self->exchange_) self->exchange_->markGone();
      if (!self->writing_) self->exchangeDone_ = true;
    }
    self->wake();
  });
}

void Session::queue(std::string bytes, bool last) {
  if (broken_) {
    // Nothing more goes out; the exchange ends once no write is in flight.
    if (last && !writing_) {
      exchangeDone_ = true;
      wake();
    }
    return;
  }
  pendingBytes_ += bytes.size();
  queued_.push_back(Pending{std::move(bytes)});
  if (last) lastQueued_ = true;
  startWriting();
}

void Session::queueChunk(std::string data) {
  if (broken_) return;
  Pending chunk{std::move(data)};
  chunk.chunk = true;
  chunk.headSize = static_cast<uint8_t>(
      std::snprintf(chunk.head.data(), chunk.head.size(), "%zx\r\n", chunk.data.size()));
  pendingBytes_ += chunk.size();
  queued_.push_back(std::move(chunk));
  startWriting();
}

// The write starts once the current handler is done: one backend read often holds several
// events, and their chunks then leave in one sendmsg instead of one each (the send was ~40% of
// the gateway's CPU per streamed token, bench/results/2026-11-27-2.md).
void Session::startWriting() {
  if (writing_) return;
  writing_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->writeNext(); });
}

// Sends what is queued, up to kGatherWrites entries per gathered write. Each batch is first
// offered to the (non-blocking) socket right here, so the handler that wrote an answer's final
// bytes knows they are in the socket; what the socket does not take at once is written
// asynchronously from the same, untouched batch.
void Session::writeNext() {
  using Buffers = boost::container::static_vector<asio::const_buffer, 3 * kGatherWrites>;
  for (;;) {
    if (broken_) {
      queued_.clear();
      pendingBytes_ = 0;
    }
    if (queued_.empty()) {
      writing_ = false;
      if (delivered_ || broken_) {
        endExchange();
      } else if (exchange_) {
        exchange_->notifyDrained();
      }
      return;
    }
    const auto batchEnd =
        queued_.begin() + static_cast<ptrdiff_t>(std::min(queued_.size(), kGatherWrites));
    std::move(queued_.begin(), batchEnd, std::back_inserter(inFlight_));
    queued_.erase(queued_.begin(), batchEnd);
    lastInFlight_ = lastQueued_ && queued_.empty();
    Buffers buffers;
    size_t total = 0;
    for (const Pending& next : inFlight_) {
      if (next.headSize != 0) buffers.push_back(asio::buffer(next.head.data(), next.headSize));
      if (!next.data.empty()) buffers.push_back(asio::buffer(next.data));
      if (next.chunk) buffers.push_back(asio::buffer("\r\n", 2));
      total += next.size();
    }
    beast::error_code ec;
    const size_t sent = socket_.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
    if (ec) {
      writeFailed();
      return;
    }
    if (sent == total) {
      batchWritten();
      continue;
    }
    beast::buffers_suffix<Buffers> rest(buffers);
    rest.consume(sent);
    armDeadline(writeDeadline_, worker_.limits().writeTimeout);
    asio::async_write(socket_, rest, [self = shared_from_this()](beast::error_code ec, size_t) {
      disarm(self->writeDeadline_);
      if (ec) {
        self->writeFailed();
        return;
      }
      self->batchWritten();
      self->writeNext();
    });
    return;
  }
}

void Session::batchWritten() {
  for (const Pending& done : inFlight_) {
    pendingBytes_ -= done.size();
    bytesSent_ += done.size();
  }
  inFlight_.clear();
  if (lastInFlight_) {
    delivered_ = true;
    if (exchange_) recordMetrics(*exchange_);
  }
}

void Session::writeFailed() {
  broken_ = true;
  queued_.clear();
  inFlight_.clear();
  pendingBytes_ = 0;
  writing_ = false;
  if (exchange_) exchange_->markGone();
  endExchange();
}

// No write is left for this exchange: stop the watch read so the request loop can own the
// socket again, and wake it.
void Session::endExchange() {
  exchangeDone_ = true;
  if (watching_) {
    beast::error_code ignored;
    socket_.cancel(ignored);
  }
  wake();
}

int Session::outcomeStatus(const ExchangeImpl& ex) const {
  return delivered_ && ex.status() != 0 ? ex.status() : 499;
}

void Session::recordMetrics(const ExchangeImpl& ex) {
  if (recorded_) return;
  recorded_ = true;
  const RequestInfo& info = ex.request();
  const AccessNote& note = ex.accessNote();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - info.started).count();
  const std::string labels = "route=\"" + obs::escapeLabel(note.route) + "\",status=\"" +
                             std::to_string(outcomeStatus(ex)) + "\"";
  worker_.shard().count("qodo2api_http_requests_total", labels);
  worker_.shard().observe("qodo2api_http_request_duration_seconds",
                          "route=\"" + obs::escapeLabel(note.route) + "\"", seconds);
  // The console's last hour (obs/stats.h): requests with a route of the API only.
  if (note.route.substr(0, 3) == "/v1")
    worker_.metrics().traffic().record(std::chrono::system_clock::now(), outcomeStatus(ex),
                                       seconds, note.promptTokens, note.completionTokens);
  // An answer (its tokens were counted) is usage of its key and model, delivered whole or not:
  // the backend did the work.
  if (note.promptTokens >= 0 && note.completionTokens >= 0 && !note.model.empty())
    worker_.usage().add(obs::utcDay(std::chrono::system_clock::now()),
                        note.keyName.empty() ? "anonymous" : note.keyName, note.model,
                        note.promptTokens, note.completionTokens);
  if (note.promptTokens >= 0)
    worker_.shard().count("qodo2api_tokens_total", "direction=\"in\"", note.promptTokens);
  if (note.completionTokens >= 0)
    worker_.shard().count("qodo2api_tokens_total", "direction=\"out\"", note.completionTokens);
}

void Session::logAccess(const ExchangeImpl& ex) {
  const RequestInfo& info = ex.request();
  const AccessNote& note = ex.accessNote();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - info.started).count();
  const std::string_view path = std::string_view(info.target).substr(0, info.target.find('?'));
  spdlog::info(
      "access id={} ip={} method={} path={} status={} model={} duration_ms={:.1f} account={} "
      "prompt_tokens={} completion_tokens={} bytes_sent={}{}{}",
      info.requestId, info.clientIp, info.method, path, outcomeStatus(ex),
      note.model.empty() ? "-" : note.model, seconds * 1000,
      note.account.empty() ? "-" : note.account, note.promptTokens, note.completionTokens,
      bytesSent_, delivered_ || ex.status() == 0 ? "" : " incomplete=1",
      ex.clientGone() ? " client_gone=1" : "");
}

// ---- Server ----------------------------------------------------------------------------------

Server::Server(std::string host, uint16_t port, size_t workers, ServerLimits limits,
               obs::Metrics& metrics, HandlerFactory handlerFor)
    : host_(std::move(host)), port_(port) {
  for (size_t i = 0; i < std::max<size_t>(workers, 1); ++i)
    workers_.push_back(std::make_unique<Worker>(i, limits, metrics, handlerFor));
}

Server::~Server() = default;

void Server::start() {
  for (auto& w : workers_) {
    const uint16_t bound = w->listen(host_, port_);
    port_ = bound;  // port 0: the first worker picks, the others join it
  }
  for (auto& w : workers_) w->start();
}

void Server::stop(std::chrono::seconds grace) {
  for (auto& w : workers_) w->beginStop();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    bool all = true;
    for (auto& w : workers_) all &= w->finished();
    if (all || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(20ms);
  }
  for (auto& w : workers_)
    if (!w->finished()) w->forceStop();
  for (auto& w : workers_) w->join();
}

asio::io_context& Server::workerContext(size_t index) { return workers_.at(index)->io(); }

}  // namespace http
