#include "store/redis.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>

namespace store {

namespace asio = boost::asio;

std::optional<int64_t> parseInteger(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

int64_t RedisReply::asInteger(int64_t fallback) const {
  if (type == Type::kInteger) return integer;
  if (type != Type::kString && type != Type::kStatus) return fallback;
  return parseInteger(str).value_or(fallback);
}

namespace {

RedisReply convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default:
      break;
  }
  return out;
}

// One TCP connection: hiredis's context and the descriptor Asio watches for it. hiredis's event
// hooks get a raw pointer to it; Asio's handlers hold it alive.
struct Conn : std::enable_shared_from_this<Conn> {
  explicit Conn(asio::io_context& io, int fd) : descriptor(io, fd) {}
  redisAsyncContext* ac = nullptr;  // null once hiredis freed it (cleanup)
  asio::posix::stream_descriptor descriptor;
  bool reading = false, writing = false, readArmed = false, writeArmed = false;
  bool connected = false;

  void armRead() { arm(&Conn::readArmed, &Conn::reading, Direction::kRead); }
  void armWrite() { arm(&Conn::writeArmed, &Conn::writing, Direction::kWrite); }

 private:
  enum class Direction { kRead, kWrite };
  // Waits once for the descriptor to be ready in `direction`, lets hiredis handle it, and waits
  // again while hiredis still wants it (`wanted`); `armed` keeps one wait per direction.
  void arm(bool Conn::*armed, bool Conn::*wanted, Direction direction) {
    if (this->*armed || !ac) return;
    this->*armed = true;
    const auto wait = direction == Direction::kRead ? asio::posix::descriptor_base::wait_read
                                                    : asio::posix::descriptor_base::wait_write;
    descriptor.async_wait(wait, [c = shared_from_this(), armed, wanted,
                                 direction](const boost::system::error_code& ec) {
      c.get()->*armed = false;
      if (ec || !c->ac || !(c.get()->*wanted)) return;
      if (direction == Direction::kRead)
        redisAsyncHandleRead(c->ac);
      else
        redisAsyncHandleWrite(c->ac);
      if (c->ac && c.get()->*wanted) c->arm(armed, wanted, direction);
    });
  }
};

void addRead(void* d) {
  auto* c = static_cast<Conn*>(d);
  c->reading = true;
  c->armRead();
}
void delRead(void* d) { static_cast<Conn*>(d)->reading = false; }
void addWrite(void* d) {
  auto* c = static_cast<Conn*>(d);
  c->writing = true;
  c->armWrite();
}
void delWrite(void* d) { static_cast<Conn*>(d)->writing = false; }
void cleanup(void* d) {
  auto* c = static_cast<Conn*>(d);
  c->reading = c->writing = false;
  c->ac = nullptr;
  // hiredis closes the descriptor itself.
  boost::system::error_code ignored;
  c->descriptor.cancel(ignored);
  c->descriptor.release();
}

}  // namespace

struct RedisClient::State {
  explicit State(asio::io_context& io) : connectTimer(io), reconnectTimer(io), pingTimer(io) {}
  RedisClient* owner = nullptr;  // null once the client is being destroyed
  std::shared_ptr<Conn> conn;
  asio::steady_timer connectTimer, reconnectTimer, pingTimer;
  int failures = 0;  // consecutive failed connections, for the back-off
  bool stopped = true;
  std::optional<std::chrono::steady_clock::time_point> pingSentAt;  // an unanswered ping
};

namespace {

struct Pending {
  std::shared_ptr<RedisClient::State> state;
  RedisCallback done;
};

void onReply(redisAsyncContext*, void* reply, void* privdata) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
  if (pending->state->owner == nullptr) return;
  if (reply == nullptr) {
    pending->done(std::nullopt);
    return;
  }
  pending->done(convert(*static_cast<redisReply*>(reply)));
}

}  // namespace

RedisClient::RedisClient(asio::io_context& io, RedisOptions options)
    : io_(io), options_(std::move(options)), state_(std::make_shared<State>(io)) {
  state_->owner = this;
}

RedisClient::~RedisClient() {
  state_->owner = nullptr;
  stop();
}

void RedisClient::subscribe(std::string channel,
                            std::function<void(std::string_view message)> handler) {
  channel_ = std::move(channel);
  onMessage_ = std::move(handler);
}

void RedisClient::start() {
  state_->stopped = false;
  connect();
}

void RedisClient::stop() {
  State& s = *state_;
  s.stopped = true;
  s.connectTimer.cancel();
  s.reconnectTimer.cancel();
  s.pingTimer.cancel();
  if (s.conn && s.conn->ac) redisAsyncFree(s.conn->ac);  // pending callbacks get nullopt
  s.conn.reset();
  up_.store(false, std::memory_order_release);
}

void RedisClient::connect() {
  State& s = *state_;
  if (s.stopped) return;
  redisAsyncContext* ac = redisAsyncConnect(options_.target.host.c_str(), options_.target.port);
  if (ac == nullptr || ac->err) {
    if (s.failures == 0)
      spdlog::debug("redis ({}): cannot connect: {}", options_.name,
                    ac ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);
    scheduleReconnect();
    return;
  }
  auto conn = std::make_shared<Conn>(io_, ac->c.fd);
  conn->ac = ac;
  s.conn = conn;
  ac->data = this;
  ac->ev.data = conn.get();
  ac->ev.addRead = addRead;
  ac->ev.delRead = delRead;
  ac->ev.addWrite = addWrite;
  ac->ev.delWrite = delWrite;
  ac->ev.cleanup = cleanup;
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
    auto* self = static_cast<RedisClient*>(c->data);
    if (self->state_->owner == nullptr) return;
    if (status != REDIS_OK) {
      // hiredis frees the context after this returns (the next connect replaces `conn`).
      self->scheduleReconnect();
      return;
    }
    self->connected();
  });
  redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int status) {
    auto* self = static_cast<RedisClient*>(c->data);
    if (self->state_->owner == nullptr) return;
    self->disconnected(c->errstr[0] != '\0' ? c->errstr : "connection closed");
  });
  // A connect that neither succeeds nor fails (a silent host) is given up after a while.
  s.connectTimer.expires_after(options_.connectTimeout);
  std::weak_ptr<Conn> weak = conn;
  s.connectTimer.async_wait([this, weak](const boost::system::error_code& ec) {
    auto c = weak.lock();
    if (ec || !c || c->connected || !c->ac) return;
    redisAsyncFree(c->ac);  // not connected: no disconnect callback
    if (state_->conn == c) state_->conn.reset();
    scheduleReconnect();
  });
  // hiredis watches for writability to learn the connect's outcome; Asio needs the first arm.
  addWrite(conn.get());
}

void RedisClient::scheduleReconnect() {
  State& s = *state_;
  if (s.stopped) return;
  const int doublings = std::min(s.failures, 16);
  ++s.failures;
  auto delay = std::min(options_.backoffBase * (1 << doublings), options_.backoffCap);
  s.reconnectTimer.expires_after(delay);
  s.reconnectTimer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

void RedisClient::connected() {
  State& s = *state_;
  s.connectTimer.cancel();
  s.conn->connected = true;
  redisAsyncContext* ac = s.conn->ac;
  const auto& t = options_.target;
  auto checked = [this](const char* what) {
    return [this, what](std::optional<RedisReply> reply) {
      if (reply && !reply->isError()) return;
      spdlog::error("redis ({}): {} failed: {}", options_.name, what,
                    reply ? reply->str : "no answer");
      if (state_->conn && state_->conn->ac) redisAsyncFree(state_->conn->ac);
    };
  };
  if (!t.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!t.user.empty()) auth.push_back(t.user);
    auth.push_back(t.password);
    command(std::move(auth), checked("AUTH"));
  }
  if (t.db != 0) command({"SELECT", std::to_string(t.db)}, checked("SELECT"));

  if (!channel_.empty()) {
    // Subscriber: usable once the subscription is confirmed; messages follow on the same
    // callback for as long as the connection lives.
    const char* argv[] = {"SUBSCRIBE", channel_.c_str()};
    const size_t lens[] = {9, channel_.size()};
    redisAsyncCommandArgv(
        ac,
        [](redisAsyncContext* c, void* r, void*) {
          auto* self = static_cast<RedisClient*>(c->data);
          auto* reply = static_cast<redisReply*>(r);
          if (self->state_->owner == nullptr || reply == nullptr ||
              reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
            return;
          const std::string_view kind(reply->element[0]->str, reply->element[0]->len);
          if (kind == "subscribe") {
            self->state_->failures = 0;
            self->up_.store(true, std::memory_order_release);
            if (self->onUp_) self->onUp_();
          } else if (kind == "message" && reply->element[2]->type == REDIS_REPLY_STRING) {
            self->onMessage_(std::string_view(reply->element[2]->str, reply->element[2]->len));
          }
        },
        nullptr, 2, argv, lens);
    return;
  }
  command({"PING"}, [this](std::optional<RedisReply> reply) {
    if (!reply || reply->isError()) return;
    state_->failures = 0;
    up_.store(true, std::memory_order_release);
    if (onUp_) onUp_();
    state_->pingSentAt.reset();
    ping();
  });
}

void RedisClient::disconnected(const std::string& reason) {
  State& s = *state_;
  s.pingTimer.cancel();
  s.pingSentAt.reset();
  // hiredis frees the context after this returns; the next connect replaces `conn`.
  const bool wasUp = up_.exchange(false, std::memory_order_acq_rel);
  if (wasUp && onDown_) onDown_(reason);
  scheduleReconnect();
}

void RedisClient::ping() {
  State& s = *state_;
  s.pingTimer.expires_after(options_.pingInterval);
  s.pingTimer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    State& s = *state_;
    if (!s.conn || !s.conn->ac) return;
    const auto now = std::chrono::steady_clock::now();
    if (s.pingSentAt && now - *s.pingSentAt > options_.pingTimeout) {
      // Redis hangs: drop the connection (pending callbacks get nullopt) and reconnect.
      s.conn->ac->c.err = REDIS_ERR_IO;
      std::snprintf(s.conn->ac->c.errstr, sizeof(s.conn->ac->c.errstr), "%s",
                    "no answer to a ping");
      redisAsyncFree(s.conn->ac);
      return;
    }
    if (!s.pingSentAt) {
      s.pingSentAt = now;
      command({"PING"}, [this](std::optional<RedisReply> reply) {
        if (reply) state_->pingSentAt.reset();
      });
    }
    ping();
  });
}

void RedisClient::command(const std::vector<std::string>& args, RedisCallback done) {
  State& s = *state_;
  if (!s.conn || !s.conn->ac || !s.conn->connected) {
    done(std::nullopt);
    return;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* pending = new Pending{state_, std::move(done)};
  if (redisAsyncCommandArgv(s.conn->ac, onReply, pending, static_cast<int>(argv.size()),
                            argv.data(), lens.data()) != REDIS_OK) {
    std::unique_ptr<Pending> owned(pending);
    owned->done(std::nullopt);
    return;
  }
  commandsSent_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace store
