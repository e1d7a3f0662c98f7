// The fleet's Redis pieces against a real redis-server (installed by scripts/install-deps):
// the Asio-driven hiredis client (replies, reconnection after Redis restarts), the scripts
// (sent by SHA, the text once after NOSCRIPT) and the account fields' round trip.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "fleet/fleet_sync.h"
#include "fleet/scripts.h"
#include "store/redis.h"

namespace {

using namespace std::chrono_literals;

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class RedisServer {
 public:
  explicit RedisServer(int port) : port_(port) {}
  ~RedisServer() { stop(); }
  bool start() {
    const std::string cmd = "redis-server --port " + std::to_string(port_) +
                            " --bind 127.0.0.1 --save '' --appendonly no --daemonize yes"
                            " --pidfile /tmp/qodo2api-unit-redis-" +
                            std::to_string(port_) + ".pid --logfile /dev/null";
    if (std::system(cmd.c_str()) != 0) return false;
    for (int i = 0; i < 100; ++i) {
      if (std::system(
              ("redis-cli -p " + std::to_string(port_) + " ping >/dev/null 2>&1").c_str()) == 0)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  void stop() {
    std::system(
        ("redis-cli -p " + std::to_string(port_) + " shutdown nosave >/dev/null 2>&1").c_str());
  }

 private:
  int port_;
};

bool haveRedis() { return std::system("command -v redis-server >/dev/null 2>&1") == 0; }

template <class Pred>
bool runUntil(boost::asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

store::RedisOptions optionsFor(int port) {
  store::RedisOptions o;
  o.target.host = "127.0.0.1";
  o.target.port = static_cast<uint16_t>(port);
  o.name = "test";
  o.backoffBase = 20ms;
  o.backoffCap = 100ms;
  return o;
}

// A redis-server on a free port and a client of it, connected.
class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRedis()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(server.start());
    redis.start();
    ASSERT_TRUE(runUntil(io, [&] { return redis.up(); }));
  }
  const int port = freePort();
  RedisServer server{port};
  boost::asio::io_context io;
  store::RedisClient redis{io, optionsFor(port)};
};

TEST_F(RedisTest, AnswersCommandsOfEveryReplyType) {

  std::vector<std::optional<store::RedisReply>> replies;
  redis.command({"SET", "k", std::string("v\0w", 3)}, [&](auto r) { replies.push_back(r); });
  redis.command({"GET", "k"}, [&](auto r) { replies.push_back(r); });
  redis.command({"INCRBY", "n", "41"}, [&](auto r) { replies.push_back(r); });
  redis.command({"GET", "missing"}, [&](auto r) { replies.push_back(r); });
  redis.command({"RPUSH", "l", "a", "b"}, [&](auto r) { replies.push_back(r); });
  redis.command({"LRANGE", "l", "0", "-1"}, [&](auto r) { replies.push_back(r); });
  redis.command({"NOSUCHCOMMAND"}, [&](auto r) { replies.push_back(r); });
  ASSERT_TRUE(runUntil(io, [&] { return replies.size() == 7; }));
  for (const auto& r : replies) ASSERT_TRUE(r.has_value());
  EXPECT_EQ(replies[0]->type, store::RedisReply::Type::kStatus);
  EXPECT_EQ(replies[1]->str, std::string("v\0w", 3));  // binary-safe
  EXPECT_EQ(replies[2]->integer, 41);
  EXPECT_TRUE(replies[3]->isNil());
  ASSERT_EQ(replies[5]->elements.size(), 2u);
  EXPECT_EQ(replies[5]->elements[1].str, "b");
  EXPECT_TRUE(replies[6]->isError());
}

TEST_F(RedisTest, GoesDownWhenRedisDiesAndComesBackWhenItReturns) {
  int ups = 0, downs = 0;
  redis.onUp([&] { ++ups; });
  redis.onDown([&](const std::string&) { ++downs; });

  server.stop();
  ASSERT_TRUE(runUntil(io, [&] { return downs == 1; }));
  EXPECT_FALSE(redis.up());
  bool answered = false, empty = false;
  redis.command({"PING"}, [&](auto r) {
    answered = true;
    empty = !r.has_value();
  });
  EXPECT_TRUE(answered);  // at once: nothing is queued while down
  EXPECT_TRUE(empty);

  ASSERT_TRUE(server.start());
  ASSERT_TRUE(runUntil(io, [&] { return ups == 1; }));
  std::optional<store::RedisReply> pong;
  redis.command({"PING"}, [&](auto r) { pong = r; });
  ASSERT_TRUE(runUntil(io, [&] { return pong.has_value(); }));
  EXPECT_EQ(pong->str, "PONG");
}

TEST_F(RedisTest, RateLimitScriptKeepsAnExactWindowAndTellsWhenTheOldestIsForgotten) {

  // The first run meets NOSCRIPT (a fresh Redis) and sends the text; later ones go by SHA.
  std::vector<int64_t> answers;
  for (int i = 0; i < 4; ++i)
    fleet::kRateLimit.run(redis, {fleet::rateKey("203.0.113.9")},
                          {"3", "60000", "m" + std::to_string(i)},
                          [&](auto r) { answers.push_back(r ? r->integer : -1); });
  ASSERT_TRUE(runUntil(io, [&] { return answers.size() == 4; }));
  EXPECT_EQ(answers[0], 0);
  EXPECT_EQ(answers[1], 0);
  EXPECT_EQ(answers[2], 0);
  EXPECT_GT(answers[3], 59000);  // the first request was made just now: forgotten in ~60 s
  EXPECT_LE(answers[3], 60000);
  // Another IP has its own window.
  std::optional<int64_t> other;
  fleet::kRateLimit.run(redis, {fleet::rateKey("203.0.113.10")}, {"3", "60000", "x"},
                        [&](auto r) { other = r ? r->integer : -1; });
  ASSERT_TRUE(runUntil(io, [&] { return other.has_value(); }));
  EXPECT_EQ(*other, 0);
}

TEST(FleetFields, AnAccountSurvivesTheRoundTripThroughItsHash) {
  accounts::Account a;
  a.id = 7;
  a.kind = accounts::AccountKind::kChats;
  a.apiKey = "AIzaKey";
  a.refreshToken = "rt-rotated";
  a.originalTokenHash = "abc123";
  a.status = {accounts::State::kCooling, accounts::fromUnixSeconds(1900000000)};
  a.lastError = "rate limited";
  a.accessToken = "at-1";
  a.accessIssued = accounts::TimePoint(std::chrono::milliseconds(1800000000123));
  a.accessExpiry = accounts::TimePoint(std::chrono::milliseconds(1800003600123));
  a.requests = 99;  // the instance's own: not shared
  a.info.quota = {100, 5, 1900000000};

  const auto b = fleet::accountFrom(7, fleet::fieldsOf(a));
  EXPECT_EQ(b.id, 7);
  EXPECT_EQ(b.apiKey, a.apiKey);
  EXPECT_EQ(b.refreshToken, a.refreshToken);
  EXPECT_EQ(b.originalTokenHash, a.originalTokenHash);
  EXPECT_EQ(b.status, a.status);
  EXPECT_EQ(b.lastError, a.lastError);
  EXPECT_EQ(b.accessToken, a.accessToken);
  EXPECT_EQ(b.accessExpiry, a.accessExpiry);
  EXPECT_EQ(b.accessIssued, a.accessIssued);
  EXPECT_EQ(b.info.quota, a.info.quota);
  EXPECT_EQ(b.requests, 0u);

  // A command account's key serves once get-things listed its models.
  accounts::Account c;
  c.kind = accounts::AccountKind::kCommand;
  c.refreshToken = "qodo-key";
  c.originalTokenHash = "h";
  c.info.models = {"claude-4-sonnet", "gpt-4.1"};
  const auto d = fleet::accountFrom(8, fleet::fieldsOf(c));
  EXPECT_EQ(d.kind, accounts::AccountKind::kCommand);
  EXPECT_EQ(d.info.models, c.info.models);
  EXPECT_EQ(d.accessToken, "qodo-key");
}

}  // namespace

namespace {

TEST(ParseInteger, TakesWholeIntegersOnly) {
  EXPECT_EQ(store::parseInteger("42"), 42);
  EXPECT_EQ(store::parseInteger("-7"), -7);
  EXPECT_EQ(store::parseInteger("1796222061123"), 1796222061123);
  EXPECT_FALSE(store::parseInteger(""));
  EXPECT_FALSE(store::parseInteger("12x"));
  EXPECT_FALSE(store::parseInteger(" 12"));
  EXPECT_FALSE(store::parseInteger("99999999999999999999"));
}

}  // namespace
