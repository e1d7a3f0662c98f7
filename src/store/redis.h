// A Redis connection driven from an Asio loop (DESIGN.md: hiredis's async context, hooked into
// the loop the way libcurl is): commands with callbacks, pub/sub, reconnection with back-off and
// a ping watchdog, so a Redis that died or hangs is noticed within seconds. Everything but up()
// runs on the loop's thread. hiredis stays out of this header.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace boost::asio {
class io_context;
}

namespace store {

struct RedisReply {
  enum class Type { kNil, kInteger, kString, kArray, kStatus, kError };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisReply> elements;

  bool isError() const { return type == Type::kError; }
  bool isNil() const { return type == Type::kNil; }
  // An integer reply, or a string holding one; `fallback` otherwise.
  int64_t asInteger(int64_t fallback = 0) const;
};

// A whole decimal integer (an optional '-' and digits, nothing else), or nothing.
std::optional<int64_t> parseInteger(std::string_view text);

// nullopt: no answer (not connected, or the connection dropped before the answer).
using RedisCallback = std::function<void(std::optional<RedisReply>)>;

struct RedisOptions {
  config::RedisTarget target;
  std::string name;  // for logs: "commands", "events"
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds backoffBase{100};
  std::chrono::milliseconds backoffCap{2000};
  std::chrono::milliseconds pingInterval{1000};  // a ping unanswered after this long…
  std::chrono::milliseconds pingTimeout{2000};   // …for this long drops the connection
};

class RedisClient {
 public:
  RedisClient(boost::asio::io_context& io, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Called on the loop's thread once the connection is usable (after AUTH and SELECT), and when
  // a usable connection is lost (with the reason). Set on the loop's thread; before start() to
  // hear of the first connection too.
  void onUp(std::function<void()> handler) { onUp_ = std::move(handler); }
  void onDown(std::function<void(const std::string& reason)> handler) {
    onDown_ = std::move(handler);
  }
  // Puts the connection in subscriber mode: messages on `channel` go to `handler`, and the
  // subscription is made again after every reconnection. Set before start(); a subscribed client
  // takes no other commands.
  void subscribe(std::string channel, std::function<void(std::string_view message)> handler);

  // Connects, and reconnects for as long as the client lives. Loop thread.
  void start();
  // Drops the connection and stops reconnecting; pending callbacks get nullopt. Loop thread.
  void stop();

  // Any thread: whether the connection is usable now.
  bool up() const { return up_.load(std::memory_order_acquire); }
  uint64_t commandsSent() const { return commandsSent_.load(std::memory_order_relaxed); }

  // Loop thread. Binary-safe arguments (copied into hiredis's buffer before this returns);
  // `done` runs on the loop's thread, exactly once.
  void command(const std::vector<std::string>& args, RedisCallback done);

  struct State;  // the connection's state, shared with hiredis's callbacks

 private:
  void connect();
  void scheduleReconnect();
  void connected();
  void disconnected(const std::string& reason);
  void ping();

  boost::asio::io_context& io_;
  const RedisOptions options_;
  std::function<void()> onUp_;
  std::function<void(const std::string&)> onDown_;
  std::string channel_;
  std::function<void(std::string_view)> onMessage_;

  std::shared_ptr<State> state_;
  std::atomic<bool> up_{false};
  std::atomic<uint64_t> commandsSent_{0};
};

}  // namespace store
