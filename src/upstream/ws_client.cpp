#include "upstream/ws_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>
#include <deque>
#include <map>
#include <optional>
#include <unordered_set>

#include "upstream/curl_tunnel.h"

namespace upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Pings while the server is quiet; Beast closes a socket that answers nothing for this long.
constexpr auto kPingIdle = std::chrono::seconds(60);

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;  // path and query
};

std::optional<Target> parseTarget(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::nullopt;
  Target t;
  const auto scheme = parsed->scheme();
  if (scheme == "wss" || scheme == "https") {
    t.tls = true;
  } else if (scheme != "ws" && scheme != "http") {
    return std::nullopt;
  }
  t.host = std::string(parsed->host());
  if (t.host.empty()) return std::nullopt;
  t.port = parsed->has_port() ? std::string(parsed->port()) : (t.tls ? "443" : "80");
  t.path = std::string(parsed->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (parsed->has_query()) t.path += "?" + std::string(parsed->encoded_query());
  return t;
}

}  // namespace

// What a handle reaches: the session, whatever its stream type.
struct WsHandle::State {
  virtual ~State() = default;
  virtual void send(std::string frame) = 0;
  virtual void cancel() = 0;
  virtual void resume() = 0;
  bool finished = false;
};

void WsHandle::send(std::string frame) {
  if (auto s = state_.lock(); s && !s->finished) s->send(std::move(frame));
}
void WsHandle::cancel() {
  if (auto s = state_.lock(); s && !s->finished) s->cancel();
}
void WsHandle::resume() {
  if (auto s = state_.lock(); s && !s->finished) s->resume();
}
bool WsHandle::active() const {
  auto s = state_.lock();
  return s && !s->finished;
}

struct WsClient::Impl {
  Impl(asio::io_context& io, WsOptions options)
      : io(io), options(options), tls(asio::ssl::context::tls_client) {
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
  }
  asio::io_context& io;
  WsOptions options;
  asio::ssl::context tls;
  std::unordered_set<std::shared_ptr<WsHandle::State>> live;
  // Resolved backends, for kResolveTtl: every answer opens a socket to the same host, and a
  // resolve is a round trip through Asio's resolver thread.
  struct Resolved {
    tcp::resolver::results_type endpoints;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Resolved, std::less<>> resolved;
  static constexpr std::chrono::seconds kResolveTtl{60};
};

namespace {

// A socket bound to the worker's io_context executor type: no type-erased executor copied on
// every operation (what beast::tcp_stream and any_io_executor cost per frame).
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using PlainStream = websocket::stream<Socket>;
using TlsStream = websocket::stream<asio::ssl::stream<Socket>>;
using TunnelStream = websocket::stream<CurlTunnel>;

template <typename Stream>
class Session final : public WsHandle::State, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <typename... Args>
  Session(WsClient::Impl& client, Target target, WsRequest request, WsHandlers handlers,
          Args&&... streamArgs)
      : client_(client),
        target_(std::move(target)),
        request_(std::move(request)),
        handlers_(std::move(handlers)),
        ws_(std::forward<Args>(streamArgs)...),
        deadline_(client.io),
        resumed_(client.io),
        opened_(client.io) {}

  ~Session() override {
    if (mailbox_) mailbox_->close();
  }

  asio::awaitable<void> run() {
    auto self = this->shared_from_this();
    WsResult result = co_await converse();
    if (!cancelled_) {
      finished = true;
      client_.live.erase(self);
      if (handlers_.onDone) handlers_.onDone(result);
    }
    co_return;
  }

  void send(std::string frame) override {
    outbox_.push_back(std::move(frame));
    if (!writing_ && open_) startWrite();
  }

  void cancel() override {
    cancelled_ = true;
    finished = true;
    closeSocket();
    client_.live.erase(this->shared_from_this());
  }

  void resume() override {
    paused_ = false;
    resumed_.cancel();
  }

 private:
  auto& lowest() { return beast::get_lowest_layer(ws_); }

  static constexpr bool kTunnel = std::is_same_v<Stream, TunnelStream>;

  void closeSocket() {
    disarm();
    deadline_.cancel();
    resumed_.cancel();
    if constexpr (kTunnel) {
      if (mailbox_) mailbox_->close();
      opened_.cancel();
      lowest().close();
    } else {
      beast::error_code ec;
      lowest().shutdown(tcp::socket::shutdown_both, ec);
      lowest().close(ec);
    }
  }

  // PROXY_URL: libcurl opens the connection on a helper thread; this waits for it.
  asio::awaitable<std::optional<WsResult>> openTunnel() {
    std::weak_ptr<Session> weak = this->shared_from_this();
    mailbox_ = std::make_shared<TunnelMailbox>(client_.io, [weak](TunnelResult r) {
      auto self = weak.lock();
      if (!self || self->cancelled_) return;
      self->tunnel_ = std::move(r);
      self->opened_.cancel();
    });
    upstream::openTunnel((target_.tls ? "https://" : "http://") + target_.host + ":" + target_.port,
                         client_.options.proxyUrl, client_.options.connectTimeout, mailbox_);
    while (!tunnel_ && !cancelled_) {
      opened_.expires_at(asio::steady_timer::time_point::max());
      co_await opened_.async_wait(kTuple);
    }
    if (cancelled_) co_return WsResult{};
    TunnelResult opened = std::move(*tunnel_);
    tunnel_.reset();
    if (opened.error != ErrorKind::kNone) co_return fail(opened.error, opened.message);
    if (!lowest().adopt(std::move(opened.easy)))
      co_return fail(ErrorKind::kProxy, "the proxy tunnel's socket could not be used");
    co_return std::nullopt;
  }

  // The frame-level deadline: fires `kind` unless a frame arrives first. Re-arming to a later
  // time only moves the time (one timer wait is in flight at most, and it waits again when the
  // deadline moved on): a frame costs a clock read, not a timer cancel and its handler. A
  // deadline earlier than the wait in flight restarts the wait.
  void arm(std::chrono::milliseconds after, ErrorKind kind) {
    deadlineKind_ = kind;
    deadlineAt_ = Clock::now() + after;
    if (!deadlineWaiting_ || deadlineAt_ < deadline_.expiry()) waitForDeadline();
  }

  void disarm() { deadlineAt_ = Clock::time_point::max(); }

  void waitForDeadline() {
    deadlineWaiting_ = true;
    const uint64_t generation = ++deadlineGeneration_;
    deadline_.expires_at(deadlineAt_);  // a wait in flight ends with operation_aborted
    deadline_.async_wait([weak = this->weak_from_this(), generation](beast::error_code ec) {
      auto self = weak.lock();
      if (!self || generation != self->deadlineGeneration_) return;  // a wait replaced since
      self->deadlineWaiting_ = false;
      if (ec || self->cancelled_ || self->deadlineAt_ == Clock::time_point::max()) return;
      if (self->deadlineAt_ > Clock::now()) return self->waitForDeadline();
      self->timedOut_ = self->deadlineKind_;
      self->closeSocket();
    });
  }

  asio::awaitable<WsResult> converse() {
    WsResult result;
    if constexpr (kTunnel) {
      auto failed = co_await openTunnel();
      if (cancelled_) co_return result;
      if (failed) co_return *failed;
    } else {
      // Resolve, connect, TLS and the upgrade within the connect timeout.
      arm(client_.options.connectTimeout, ErrorKind::kConnectTimeout);
      const std::string hostPort = target_.host + ":" + target_.port;
      tcp::resolver::results_type endpoints;
      if (auto it = client_.resolved.find(hostPort);
          it != client_.resolved.end() && Clock::now() - it->second.at < WsClient::Impl::kResolveTtl) {
        endpoints = it->second.endpoints;
      } else {
        tcp::resolver resolver(client_.io);
        auto [rec, found] = co_await resolver.async_resolve(target_.host, target_.port, kTuple);
        // After a cancel nothing of the client may be touched: it may be gone.
        if (cancelled_) co_return result;
        if (rec)
          co_return fail(ErrorKind::kConnect, "cannot resolve " + target_.host + ": " + rec.message());
        client_.resolved[hostPort] = {found, Clock::now()};
        endpoints = std::move(found);
      }
      auto [cec, endpoint] = co_await asio::async_connect(lowest(), endpoints, kTuple);
      if (cancelled_) co_return result;
      if (cec) {
        client_.resolved.erase(hostPort);  // the next session resolves again
        co_return connectFailure(cec, "cannot connect to " + target_.host);
      }
      beast::error_code nodelay;
      lowest().set_option(tcp::no_delay(true), nodelay);
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (!SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), target_.host.c_str()))
        co_return fail(ErrorKind::kTls, "TLS: cannot set the server name");
      ws_.next_layer().set_verify_callback(asio::ssl::host_name_verification(target_.host));
      auto [hec] =
          co_await ws_.next_layer().async_handshake(asio::ssl::stream_base::client, kTuple);
      if (cancelled_) co_return result;
      if (hec)
        co_return connectFailure(hec, "TLS handshake with " + target_.host + " failed",
                                 ErrorKind::kTls);
    }
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = client_.options.connectTimeout;
    timeout.idle_timeout = kPingIdle;
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [headers = request_.headers](websocket::request_type& req) {
          for (const auto& h : headers) {
            const size_t colon = h.find(':');
            if (colon == std::string::npos) continue;
            std::string_view value = std::string_view(h).substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            req.set(std::string_view(h).substr(0, colon), value);
          }
        }));
    ws_.read_message_max(client_.options.maxFrameBytes);
    // A held session keeps its write buffer: 1 KB (not Beast's 4 KB) masks a big UserQuery in
    // more pieces, still sent as one frame.
    ws_.auto_fragment(false);
    ws_.write_buffer_bytes(1024);
    websocket::response_type response;
    auto [wec] = co_await ws_.async_handshake(response, target_.host, target_.path, kTuple);
    if (cancelled_) co_return result;
    if (wec) {
      if (response.result_int() != 0 && response.result_int() != 101) {
        result = fail(ErrorKind::kProtocol, "the server refused the WebSocket upgrade with " +
                                                std::to_string(response.result_int()));
        result.status = response.result_int();
        co_return result;
      }
      co_return connectFailure(wec, "WebSocket upgrade with " + target_.host + " failed");
    }
    open_ = true;
    arm(client_.options.firstByteTimeout, ErrorKind::kFirstByteTimeout);
    if (handlers_.onOpen) handlers_.onOpen();
    if (cancelled_) co_return result;
    if (!outbox_.empty() && !writing_) startWrite();

    beast::flat_buffer buffer;
    for (;;) {
      buffer.clear();
      auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
      if (cancelled_) co_return result;
      if (ec) co_return readFailure(ec);
      arm(client_.options.idleTimeout, ErrorKind::kIdleTimeout);
      if (!ws_.got_text()) continue;
      const auto data = buffer.cdata();
      const std::string_view frame(static_cast<const char*>(data.data()), data.size());
      if (handlers_.onFrame && handlers_.onFrame(frame) == Flow::kPause) {
        paused_ = true;
        disarm();  // a paused session is the client's wait, not the server's
        while (paused_ && !cancelled_) {
          resumed_.expires_at(asio::steady_timer::time_point::max());
          co_await resumed_.async_wait(kTuple);
        }
        if (cancelled_) co_return result;
        arm(client_.options.idleTimeout, ErrorKind::kIdleTimeout);
      }
      if (cancelled_) co_return result;
    }
  }

  void startWrite() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()), [self = this->shared_from_this()](
                                                       beast::error_code ec, size_t) {
      self->outbox_.pop_front();
      if (ec || self->cancelled_) {
        self->writing_ = false;
        return;  // the read loop sees the failure
      }
      // The answer to what was sent is the server's next frame.
      self->arm(self->client_.options.firstByteTimeout, ErrorKind::kFirstByteTimeout);
      if (self->outbox_.empty()) {
        self->writing_ = false;
      } else {
        self->startWrite();
      }
    });
  }

  WsResult fail(ErrorKind kind, std::string message) {
    WsResult r;
    r.error = kind;
    r.message = std::move(message);
    return r;
  }

  WsResult connectFailure(const beast::error_code& ec, const std::string& what,
                          ErrorKind kind = ErrorKind::kConnect) {
    if (timedOut_ != ErrorKind::kNone)
      return fail(timedOut_, std::string(describe(timedOut_)));
    if (ec == beast::error::timeout)
      return fail(ErrorKind::kConnectTimeout, std::string(describe(ErrorKind::kConnectTimeout)));
    return fail(kind, what + ": " + ec.message());
  }

  WsResult readFailure(const beast::error_code& ec) {
    WsResult r;
    r.status = 101;
    if (timedOut_ != ErrorKind::kNone) {
      r.error = timedOut_;
      r.message = std::string(describe(timedOut_));
      return r;
    }
    if (ec == websocket::error::closed) {
      r.closeCode = ws_.reason().code;
      r.message = "the server closed the session (" + std::to_string(r.closeCode) + ")";
      return r;
    }
    if (ec == websocket::error::message_too_big) {
      r.error = ErrorKind::kTooLarge;
      r.message = "the server sent a frame larger than " +
                  std::to_string(client_.options.maxFrameBytes) + " bytes";
      return r;
    }
    if (ec == beast::error::timeout) {
      r.error = ErrorKind::kIdleTimeout;
      r.message = "the server stopped answering pings";
      return r;
    }
    r.error = ErrorKind::kConnect;
    r.message = "the WebSocket connection failed: " + ec.message();
    return r;
  }

  WsClient::Impl& client_;
  Target target_;
  WsRequest request_;
  WsHandlers handlers_;
  Stream ws_;
  asio::steady_timer deadline_;
  Clock::time_point deadlineAt_ = Clock::time_point::max();
  bool deadlineWaiting_ = false;
  uint64_t deadlineGeneration_ = 0;
  asio::steady_timer resumed_;
  ErrorKind deadlineKind_ = ErrorKind::kNone;
  ErrorKind timedOut_ = ErrorKind::kNone;
  std::deque<std::string> outbox_;
  bool open_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool cancelled_ = false;
  // PROXY_URL only.
  std::shared_ptr<TunnelMailbox> mailbox_;
  std::optional<TunnelResult> tunnel_;
  asio::steady_timer opened_;
};

}  // namespace

WsClient::WsClient(asio::io_context& io, WsOptions options)
    : impl_(std::make_unique<Impl>(io, options)) {}

WsClient::~WsClient() {
  auto live = std::move(impl_->live);
  for (const auto& s : live) s->cancel();
}

WsHandle WsClient::start(WsRequest request, WsHandlers handlers) {
  const auto target = parseTarget(request.url);
  if (!target) {
    auto onDone = std::move(handlers.onDone);
    asio::post(impl_->io, [onDone = std::move(onDone)] {
      if (onDone) onDone(WsResult{ErrorKind::kOther, 0, 0, "not a ws:// or wss:// URL"});
    });
    return WsHandle();
  }
  std::shared_ptr<WsHandle::State> state;
  if (!impl_->options.proxyUrl.empty()) {
    auto s = std::make_shared<Session<TunnelStream>>(*impl_, *target, std::move(request),
                                                     std::move(handlers), impl_->io);
    asio::co_spawn(impl_->io, s->run(), asio::detached);
    state = s;
  } else if (target->tls) {
    auto s = std::make_shared<Session<TlsStream>>(*impl_, *target, std::move(request),
                                                  std::move(handlers), impl_->io, impl_->tls);
    asio::co_spawn(impl_->io, s->run(), asio::detached);
    state = s;
  } else {
    auto s = std::make_shared<Session<PlainStream>>(*impl_, *target, std::move(request),
                                                    std::move(handlers), impl_->io);
    asio::co_spawn(impl_->io, s->run(), asio::detached);
    state = s;
  }
  impl_->live.insert(state);
  return WsHandle(state);
}

}  // namespace upstream
