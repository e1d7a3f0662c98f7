// The real exchanger over upstream::Client against a one-shot HTTP server on 127.0.0.1: what goes
// over the wire and how the answer comes back.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>
#include <thread>

#include "accounts/exchange.h"

namespace accounts {
namespace {

using namespace std::chrono_literals;

// Accepts one connection, reads one request (headers and Content-Length body), answers
// `response` and closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) : response_(std::move(response)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/token"; }
  const std::string& request() const { return request_; }

 private:
  void serve() {
    int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    char buf[4096];
    while (true) {
      auto end = request_.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = request_.find("Content-Length: ");
        size_t length = cl == std::string::npos ? 0 : std::stoul(request_.substr(cl + 16));
        if (request_.size() >= end + 4 + length) break;
      }
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
    }
    ::send(fd, response_.data(), response_.size(), MSG_NOSIGNAL);
    ::close(fd);
  }

  std::string response_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

std::string httpResponse(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::optional<ExchangeResult> exchangeOnce(const std::string& url, ExchangeRequest request) {
  boost::asio::io_context io;
  upstream::Client client(io, {});
  std::optional<ExchangeResult> result;
  firebaseExchanger(client, url)(request, [&](ExchangeResult r) { result = std::move(r); });
  io.run_for(5s);
  return result;
}

TEST(FirebaseExchanger, PostsTheFormAndReadsTheAnswer) {
  OneShotServer server(httpResponse(
      200, R"({"access_token":"eyJ.x","expires_in":"3600","refresh_token":"AMf-rotated"})"));
  auto result = exchangeOnce(server.url(), {"AIzaKey", "AMf-old/+"});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, ExchangeStatus::kOk);
  EXPECT_EQ(result->accessToken, "eyJ.x");
  EXPECT_EQ(result->expiresIn, 3600s);
  EXPECT_EQ(result->refreshToken, "AMf-rotated");
  const std::string& req = server.request();
  EXPECT_EQ(req.rfind("POST /v1/token?key=AIzaKey HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Content-Type: application/x-www-form-urlencoded\r\n"), std::string::npos);
  EXPECT_NE(req.find("X-Client-Version: Node/JsCore/10.5.2/FirebaseCore-web\r\n"),
            std::string::npos);
  EXPECT_NE(req.find("\r\n\r\ngrant_type=refresh_token&refresh_token=AMf-old%2F%2B"),
            std::string::npos);
}

TEST(FirebaseExchanger, AnInvalidRefreshTokenIsRejected) {
  OneShotServer server(
      httpResponse(400, R"({"error":{"code":400,"message":"INVALID_REFRESH_TOKEN"}})"));
  auto result = exchangeOnce(server.url(), {"k", "t"});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, ExchangeStatus::kRejected);
  EXPECT_EQ(result->error, "INVALID_REFRESH_TOKEN");
}

TEST(FirebaseExchanger, AnUnreachableServerIsRetried) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // nothing listens on that port now
  auto result =
      exchangeOnce("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/t", {"k", "t"});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, ExchangeStatus::kTransient);
  EXPECT_FALSE(result->error.empty());
}

}  // namespace
}  // namespace accounts
