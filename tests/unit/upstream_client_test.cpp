// The upstream Client against real HTTP servers on 127.0.0.1 (a thread per connection, blocking
// sockets, scripted per test): streaming, statuses, failures, timeouts, pause and resume,
// cancel, gzip, the body limit, connection reuse, many transfers at once and proxies, all as the
// relay would see them through the handlers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "upstream/client.h"

namespace upstream {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A flag one thread raises and another waits for.
class Signal {
 public:
  void set() {
    std::lock_guard lock(mutex_);
    set_ = true;
    changed_.notify_all();
  }
  bool waitFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return set_; });
  }
  bool isSet() {
    std::lock_guard lock(mutex_);
    return set_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool set_ = false;
};

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

// True when the peer closes (or resets) the connection within the timeout; what it sends in
// the meantime is read and dropped.
bool waitForPeerClose(int fd, std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd waiting{fd, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) return false;
    if (::recv(fd, buffer, sizeof buffer, 0) <= 0) return true;
  }
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

std::string response(int status, std::string_view reason, std::string_view body,
                     std::string_view extraHeaders = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extraHeaders) +
         "\r\n" + std::string(body);
}

struct HttpRequest {
  std::string line;  // "GET /path HTTP/1.1"
  std::string head;  // everything up to the blank line
  std::string body;

  std::string header(std::string_view name) const {
    size_t start = head.find("\r\n");
    while (start != std::string::npos && start + 2 < head.size()) {
      size_t end = head.find("\r\n", start + 2);
      std::string_view line(head.data() + start + 2,
                            (end == std::string::npos ? head.size() : end) - start - 2);
      size_t colon = line.find(':');
      if (colon == name.size() &&
          std::equal(name.begin(), name.end(), line.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        return std::string(value);
      }
      start = end;
    }
    return "";
  }
  std::string path() const {
    size_t first = line.find(' ');
    size_t second = line.find(' ', first + 1);
    return line.substr(first + 1, second - first - 1);
  }
};

// Reads one request (head, then a Content-Length body); false when the peer closes first.
bool readRequest(int fd, std::string& pending, HttpRequest& request) {
  char buffer[8192];
  size_t headEnd;
  while ((headEnd = pending.find("\r\n\r\n")) == std::string::npos) {
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) return false;
    pending.append(buffer, static_cast<size_t>(got));
  }
  request = HttpRequest{};
  request.head = pending.substr(0, headEnd);
  request.line = request.head.substr(0, request.head.find("\r\n"));
  pending.erase(0, headEnd + 4);
  std::string length = request.header("Content-Length");
  size_t bodySize = length.empty() ? 0 : std::stoul(length);
  while (pending.size() < bodySize) {
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) return false;
    pending.append(buffer, static_cast<size_t>(got));
  }
  request.body = pending.substr(0, bodySize);
  pending.erase(0, bodySize);
  return true;
}

// An HTTP/1.1 server on 127.0.0.1 that runs a script for every request it reads.
class TestServer {
 public:
  // Runs on the connection's own thread; returns whether to wait for another request on the
  // same connection.
  using Script = std::function<bool(int fd, const HttpRequest& request)>;

  // `greeting` goes out as soon as a connection is accepted, before any request is read.
  explicit TestServer(Script script, std::string greeting = "")
      : script_(std::move(script)), greeting_(std::move(greeting)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_, 1024) != 0) {
      throw std::runtime_error("test server cannot listen");
    }
    socklen_t size = sizeof address;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  void stop() {
    if (stopped_.exchange(true)) return;
    ::shutdown(listen_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);  // wakes every script
    }
    for (std::thread& thread : threads_) thread.join();
    for (int fd : connections_) ::close(fd);
    ::close(listen_);
  }

  uint16_t port() const { return port_; }
  int accepts() const { return accepts_; }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  void acceptLoop() {
    for (;;) {
      int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) {
        if (stopped_) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      ++accepts_;
      {
        std::lock_guard lock(mutex_);
        connections_.push_back(fd);
      }
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    if (!greeting_.empty()) sendAll(fd, greeting_);
    std::string pending;
    HttpRequest request;
    while (readRequest(fd, pending, request) && script_(fd, request)) {
    }
    ::shutdown(fd, SHUT_RDWR);
  }

  Script script_;
  std::string greeting_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> accepts_{0};
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::vector<int> connections_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A port on which nothing listens: bound, then released.
uint16_t closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// --- gzip, written by hand so the test needs no zlib -------------------------------------------

uint32_t crc32(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void appendLittleEndian(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

std::string gzipMember(std::string_view deflated, std::string_view original) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  out += deflated;
  appendLittleEndian(out, crc32(original), 4);
  appendLittleEndian(out, static_cast<uint32_t>(original.size()), 4);
  return out;
}

// Stored (uncompressed) deflate blocks: the body is gzip-framed but as large as the text.
std::string gzipStored(std::string_view text) {
  std::string deflated;
  size_t position = 0;
  do {
    size_t size = std::min<size_t>(65535, text.size() - position);
    bool last = position + size == text.size();
    deflated += static_cast<char>(last ? 1 : 0);
    appendLittleEndian(deflated, static_cast<uint32_t>(size), 2);
    appendLittleEndian(deflated, static_cast<uint32_t>(~size & 0xFFFF), 2);
    deflated.append(text.substr(position, size));
    position += size;
  } while (position < text.size());
  return gzipMember(deflated, text);
}

// `count` copies of one byte in a fixed-Huffman block of back-references: ~160 times smaller
// than what it decodes to, a small gzip bomb.
std::string gzipRepeated(char byte, size_t count) {
  std::string deflated;
  uint32_t current = 0;
  int used = 0;
  auto push = [&](uint32_t bit) {
    current |= bit << used;
    if (++used == 8) {
      deflated += static_cast<char>(current);
      current = 0;
      used = 0;
    }
  };
  auto huffman = [&](uint32_t code, int length) {  // Huffman codes go most significant bit first
    for (int i = length - 1; i >= 0; --i) push((code >> i) & 1);
  };
  push(1);  // final block
  push(1);  // type 01, fixed Huffman, least significant bit first
  push(0);
  uint32_t literal = 0x30 + static_cast<unsigned char>(byte);  // literals 0..143: 8 bits
  huffman(literal, 8);
  size_t left = count - 1;
  for (; left >= 258; left -= 258) {
    huffman(0xC5, 8);  // length code 285: 258 bytes
    huffman(0, 5);     // distance code 0: one byte back
  }
  for (; left > 0; --left) huffman(literal, 8);
  huffman(0, 7);  // end of block
  if (used > 0) deflated += static_cast<char>(current);
  return gzipMember(deflated, std::string(count, byte));
}

// --- what the handlers saw -------------------------------------------------------------------

struct Recorder {
  std::vector<int> statuses;
  std::string body;
  int dataCalls = 0;
  bool dataBeforeStatus = false;
  std::optional<Result> done;
  int doneCalls = 0;
  std::function<Flow(std::string_view)> onData;  // runs after the bytes are recorded
  std::function<void()> onDone;

  Handlers handlers() {
    Handlers handlers;
    handlers.onStatus = [this](int status) { statuses.push_back(status); };
    handlers.onData = [this](std::string_view bytes) {
      dataBeforeStatus = dataBeforeStatus || statuses.empty();
      ++dataCalls;
      body.append(bytes);
      return onData ? onData(bytes) : Flow::kContinue;
    };
    handlers.onDone = [this](const Result& result) {
      done = result;
      ++doneCalls;
      if (onDone) onDone();
    };
    return handlers;
  }
};

Request get(std::string url) {
  Request request;
  request.url = std::move(url);
  request.method = "GET";
  return request;
}

class UpstreamClient : public ::testing::Test {
 protected:
  // Runs the loop until `done` holds; false when the timeout passed first.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    Clock::time_point deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      if (io_.run_one_for(20ms) == 0) std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  void runFor(std::chrono::milliseconds duration) {
    runUntil([] { return false; }, duration);
  }

  boost::asio::io_context io_;
};

TEST_F(UpstreamClient, StreamsEachChunkAsItArrives) {
  Signal firstSeen;
  std::atomic<bool> serverSawTheClientRead{false};
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello "));
    serverSawTheClientRead = firstSeen.waitFor(5s);
    sendAll(fd, chunk("world") + "0\r\n\r\n");
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  recorder.onData = [&](std::string_view) {
    if (recorder.dataCalls == 1) {
      EXPECT_EQ(recorder.body, "hello ");
      firstSeen.set();
    }
    return Flow::kContinue;
  };
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_TRUE(serverSawTheClientRead);
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone);
  EXPECT_EQ(recorder.done->status, 200);
  EXPECT_EQ(recorder.statuses, std::vector<int>{200});
  EXPECT_FALSE(recorder.dataBeforeStatus);
  EXPECT_EQ(recorder.body, "hello world");
}

TEST_F(UpstreamClient, ReportsTheStatusOfErrorAnswersAndOfEmptyBodies) {
  TestServer server([](int fd, const HttpRequest& request) {
    if (request.path() == "/busy") {
      sendAll(fd, response(429, "Too Many Requests", "slow down"));
    } else {
      sendAll(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    }
    return true;
  });
  Client client(io_, Options{});
  Recorder busy;
  Recorder empty;
  client.start(get(server.url("/busy")), busy.handlers());
  client.start(get(server.url("/empty")), empty.handlers());

  ASSERT_TRUE(runUntil([&] { return busy.done && empty.done; }));
  EXPECT_EQ(busy.done->error, ErrorKind::kNone);
  EXPECT_EQ(busy.done->status, 429);
  EXPECT_EQ(busy.statuses, std::vector<int>{429});
  EXPECT_EQ(busy.body, "slow down");
  EXPECT_EQ(empty.done->error, ErrorKind::kNone);
  EXPECT_EQ(empty.done->status, 204);
  EXPECT_EQ(empty.statuses, std::vector<int>{204});
  EXPECT_EQ(empty.dataCalls, 0);
}

TEST_F(UpstreamClient, SendsTheMethodHeadersAndBody) {
  TestServer server([](int fd, const HttpRequest& request) {
    sendAll(fd, response(200, "OK",
                         request.line + "|" + request.header("X-Test") + "|" +
                             request.header("Content-Type") + "|" + request.header("Expect") + "|" +
                             request.body));
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  Request request;
  request.url = server.url("/v2/chats/chat");
  request.headers = {"X-Test: yes", "Content-Type: application/json"};
  request.body = std::make_shared<const std::string>(
      2000000, 'b');  // large enough for curl to want "100 Continue"
  client.start(request, recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone);
  EXPECT_EQ(recorder.body, "POST /v2/chats/chat HTTP/1.1|yes|application/json||" + *request.body);
}

TEST_F(UpstreamClient, RefusedConnectionIsAConnectError) {
  Client client(io_, Options{});
  Recorder recorder;
  client.start(get("http://127.0.0.1:" + std::to_string(closedPort()) + "/"), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kConnect);
  EXPECT_EQ(recorder.done->status, 0);
  EXPECT_FALSE(recorder.done->message.empty());
  EXPECT_TRUE(recorder.statuses.empty());
}

TEST_F(UpstreamClient, ServerThatDoesNotSpeakTlsIsATlsError) {
  TestServer server([](int, const HttpRequest&) { return false; },
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  Client client(io_, Options{});
  Recorder recorder;
  client.start(get("https://127.0.0.1:" + std::to_string(server.port()) + "/"),
               recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kTls) << recorder.done->message;
  EXPECT_TRUE(recorder.statuses.empty());
}

TEST_F(UpstreamClient, SilentBackendIsAFirstByteTimeoutAndTheConnectionIsClosed) {
  Signal closed;
  TestServer server([&](int fd, const HttpRequest&) {
    if (waitForPeerClose(fd, 10s)) closed.set();
    return false;
  });
  Options options;
  options.firstByteTimeout = 200ms;
  Client client(io_, options);
  Recorder recorder;
  Clock::time_point started = Clock::now();
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kFirstByteTimeout);
  EXPECT_GE(Clock::now() - started, 200ms);
  EXPECT_LT(Clock::now() - started, 3s);
  EXPECT_TRUE(recorder.statuses.empty());
  EXPECT_TRUE(closed.waitFor(3s));
}

TEST_F(UpstreamClient, BackendGoingSilentMidStreamIsAnIdleTimeout) {
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("part"));
    waitForPeerClose(fd, 10s);
    return false;
  });
  Options options;
  options.idleTimeout = 200ms;
  Client client(io_, options);
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }, 3s));
  EXPECT_EQ(recorder.done->error, ErrorKind::kIdleTimeout);
  EXPECT_EQ(recorder.done->status, 200);
  EXPECT_EQ(recorder.body, "part");
}

TEST_F(UpstreamClient, AStreamLongerThanTheIdleTimeoutLivesWhileBytesKeepComing) {
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(50ms);
      sendAll(fd, chunk(std::to_string(i)));
    }
    sendAll(fd, "0\r\n\r\n");
    return true;
  });
  Options options;
  options.idleTimeout = 300ms;  // shorter than the whole answer, longer than any gap
  options.firstByteTimeout = 300ms;
  Client client(io_, options);
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone);
  EXPECT_EQ(recorder.body, "0123456789");
}

std::string numberedLines(int count) {
  std::string text;
  char line[32];
  for (int i = 0; i < count; ++i) {
    std::snprintf(line, sizeof line, "line %06d\n", i);
    text += line;
  }
  return text;
}

// Pauses on every delivery and resumes from a timer; the first pause outlasts the idle timeout.
void pauseOnEveryDelivery(boost::asio::io_context& io, Recorder& recorder,
                          boost::asio::steady_timer& timer, TransferHandle& handle) {
  recorder.onData = [&](std::string_view) {
    timer.expires_after(recorder.dataCalls == 1 ? 300ms : 1ms);
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) handle.resume();
    });
    return Flow::kPause;
  };
}

TEST_F(UpstreamClient, PauseAndResumeDeliverEveryByteOnceAndInOrder) {
  const std::string text = numberedLines(40000);  // ~480 KB, many socket reads
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t at = 0; at < text.size(); at += 7000) sendAll(fd, chunk(text.substr(at, 7000)));
    sendAll(fd, "0\r\n\r\n");
    return true;
  });
  Options options;
  options.idleTimeout = 100ms;
  Client client(io_, options);
  Recorder recorder;
  boost::asio::steady_timer timer(io_);
  TransferHandle handle;
  pauseOnEveryDelivery(io_, recorder, timer, handle);
  handle = client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }, 20s));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone) << recorder.done->message;
  EXPECT_GT(recorder.dataCalls, 10);
  EXPECT_TRUE(recorder.body == text) << "got " << recorder.body.size() << " of " << text.size();
}

TEST_F(UpstreamClient, PauseAndResumeOnACompressedBodyDeliverEveryByteOnce) {
  const std::string text = numberedLines(40000);
  const std::string compressed = gzipStored(text);
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, response(200, "OK", compressed, "Content-Encoding: gzip\r\n"));
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  boost::asio::steady_timer timer(io_);
  TransferHandle handle;
  pauseOnEveryDelivery(io_, recorder, timer, handle);
  handle = client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }, 20s));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone) << recorder.done->message;
  EXPECT_TRUE(recorder.body == text) << "got " << recorder.body.size() << " of " << text.size();
}

TEST_F(UpstreamClient, AsksForCompressionAndDecodesAGzipBody) {
  TestServer server([&](int fd, const HttpRequest& request) {
    std::string text = "accept-encoding=" + request.header("Accept-Encoding");
    sendAll(fd, response(200, "OK", gzipStored(text), "Content-Encoding: gzip\r\n"));
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone);
  EXPECT_NE(recorder.body.find("accept-encoding="), std::string::npos);
  EXPECT_NE(recorder.body.find("gzip"), std::string::npos);
}

TEST_F(UpstreamClient, DoesNotAskForCompressionWhenTold) {
  TestServer server([&](int fd, const HttpRequest& request) {
    sendAll(fd, response(200, "OK", "accept-encoding=" + request.header("Accept-Encoding")));
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  Request request = get(server.url());
  request.acceptCompressed = false;
  client.start(request, recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.body, "accept-encoding=");
}

TEST_F(UpstreamClient, BodyBeyondTheLimitIsTooLarge) {
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, response(200, "OK", std::string(10000, 'x')));
    return true;
  });
  Options options;
  options.maxBodyBytes = 4000;
  Client client(io_, options);
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kTooLarge);
  EXPECT_EQ(recorder.done->status, 200);
  EXPECT_LE(recorder.body.size(), 4000u);
}

TEST_F(UpstreamClient, GzipBombIsStoppedAtTheDecodedLimit) {
  const std::string bomb = gzipRepeated('a', 4 << 20);  // 4 MiB decoded
  ASSERT_LT(bomb.size(), 64u * 1024);
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, response(200, "OK", bomb, "Content-Encoding: gzip\r\n"));
    return true;
  });
  Options options;
  options.maxBodyBytes = 512 * 1024;  // far above the compressed size
  Client client(io_, options);
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kTooLarge);
  EXPECT_LE(recorder.body.size(), 512u * 1024);
  EXPECT_GT(recorder.body.size(), 0u);
  EXPECT_EQ(recorder.body.find_first_not_of('a'), std::string::npos);
}

TEST_F(UpstreamClient, GzipDecodesToExactlyTheOriginal) {
  const std::string bomb = gzipRepeated('z', 100000);
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, response(200, "OK", bomb, "Content-Encoding: gzip\r\n"));
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone) << recorder.done->message;
  EXPECT_TRUE(recorder.body == std::string(100000, 'z'));
}

// The server streams a first chunk, then reports whether the client hung up.
TestServer::Script firstChunkThenWatchForClose(Signal& closed) {
  return [&closed](int fd, const HttpRequest&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("first"));
    if (waitForPeerClose(fd, 5s)) {
      closed.set();
    } else {
      sendAll(fd, chunk("second") + "0\r\n\r\n");
    }
    return false;
  };
}

TEST_F(UpstreamClient, CancelInsideOnDataClosesTheConnectionAndNothingMoreIsCalled) {
  Signal closed;
  TestServer server(firstChunkThenWatchForClose(closed));
  Client client(io_, Options{});
  Recorder recorder;
  TransferHandle handle;
  recorder.onData = [&](std::string_view) {
    handle.cancel();
    return Flow::kContinue;
  };
  handle = client.start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return closed.isSet(); }, 6s));
  runFor(200ms);
  EXPECT_FALSE(handle.active());
  EXPECT_EQ(recorder.dataCalls, 1);
  EXPECT_EQ(recorder.doneCalls, 0);
}

TEST_F(UpstreamClient, CancelFromElsewhereClosesTheConnectionAndNothingMoreIsCalled) {
  Signal closed;
  TestServer server(firstChunkThenWatchForClose(closed));
  Client client(io_, Options{});
  Recorder recorder;
  TransferHandle handle = client.start(get(server.url()), recorder.handlers());
  ASSERT_TRUE(runUntil([&] { return recorder.dataCalls == 1; }));
  EXPECT_TRUE(handle.active());

  handle.cancel();
  handle.cancel();  // twice is harmless
  handle.resume();  // and so is resuming a cancelled transfer

  ASSERT_TRUE(runUntil([&] { return closed.isSet(); }, 6s));
  runFor(200ms);
  EXPECT_FALSE(handle.active());
  EXPECT_EQ(recorder.dataCalls, 1);
  EXPECT_EQ(recorder.doneCalls, 0);
}

TEST_F(UpstreamClient, CancelRightAfterStartCallsNothing) {
  TestServer server([](int fd, const HttpRequest&) {
    sendAll(fd, response(200, "OK", "never seen"));
    return true;
  });
  Client client(io_, Options{});
  Recorder recorder;
  client.start(get(server.url()), recorder.handlers()).cancel();
  runFor(300ms);
  EXPECT_TRUE(recorder.statuses.empty());
  EXPECT_EQ(recorder.dataCalls, 0);
  EXPECT_EQ(recorder.doneCalls, 0);
}

TEST_F(UpstreamClient, DestroyingTheClientAbortsLiveTransfersSilently) {
  Signal closed;
  TestServer server(firstChunkThenWatchForClose(closed));
  auto client = std::make_unique<Client>(io_, Options{});
  Recorder recorder;
  TransferHandle handle = client->start(get(server.url()), recorder.handlers());
  ASSERT_TRUE(runUntil([&] { return recorder.dataCalls == 1; }));

  client.reset();

  ASSERT_TRUE(runUntil([&] { return closed.isSet(); }, 6s));
  runFor(200ms);
  EXPECT_FALSE(handle.active());
  EXPECT_EQ(recorder.doneCalls, 0);
}

TEST_F(UpstreamClient, DestroyingTheClientFromInsideOnDataIsSafe) {
  Signal closed;
  TestServer server(firstChunkThenWatchForClose(closed));
  auto client = std::make_unique<Client>(io_, Options{});
  Recorder recorder;
  recorder.onData = [&](std::string_view) {
    client.reset();
    return Flow::kContinue;
  };
  TransferHandle handle = client->start(get(server.url()), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return closed.isSet(); }, 6s));
  runFor(200ms);
  EXPECT_FALSE(handle.active());
  EXPECT_EQ(recorder.dataCalls, 1);
  EXPECT_EQ(recorder.doneCalls, 0);
}

TEST_F(UpstreamClient, CancelInsideOnStatusMeansNoBodyAndNoDone) {
  Signal closed;
  TestServer server(firstChunkThenWatchForClose(closed));
  Client client(io_, Options{});
  Recorder recorder;
  TransferHandle handle;
  Handlers handlers = recorder.handlers();
  handlers.onStatus = [&](int status) {
    recorder.statuses.push_back(status);
    handle.cancel();
  };
  handle = client.start(get(server.url()), handlers);

  ASSERT_TRUE(runUntil([&] { return closed.isSet(); }, 6s));
  runFor(100ms);
  EXPECT_EQ(recorder.statuses, std::vector<int>{200});
  EXPECT_EQ(recorder.dataCalls, 0);
  EXPECT_EQ(recorder.doneCalls, 0);
}

TEST_F(UpstreamClient, ATransferStartedFromInsideOnDataRuns) {
  TestServer server([](int fd, const HttpRequest& request) {
    sendAll(fd, response(200, "OK", "answer for " + request.path()));
    return true;
  });
  Client client(io_, Options{});
  Recorder outer;
  Recorder inner;
  outer.onData = [&](std::string_view) {
    client.start(get(server.url("/inner")), inner.handlers());
    return Flow::kContinue;
  };
  client.start(get(server.url("/outer")), outer.handlers());

  ASSERT_TRUE(runUntil([&] { return outer.done && inner.done; }));
  EXPECT_EQ(outer.body, "answer for /outer");
  EXPECT_EQ(inner.body, "answer for /inner");
  EXPECT_EQ(inner.done->error, ErrorKind::kNone);
}

TEST_F(UpstreamClient, AMalformedUrlEndsInOnDoneAfterStartReturns) {
  Client client(io_, Options{});
  Recorder recorder;
  bool started = false;
  recorder.onDone = [&] { EXPECT_TRUE(started); };
  client.start(get("notascheme://x"), recorder.handlers());
  started = true;

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kOther);
  EXPECT_EQ(recorder.doneCalls, 1);
}

TEST_F(UpstreamClient, SequentialRequestsShareOneConnection) {
  TestServer server([](int fd, const HttpRequest& request) {
    sendAll(fd, response(200, "OK", "answer for " + request.path()));
    return true;
  });
  Client client(io_, Options{});
  Recorder first;
  Recorder second;
  first.onDone = [&] { client.start(get(server.url("/second")), second.handlers()); };
  client.start(get(server.url("/first")), first.handlers());

  ASSERT_TRUE(runUntil([&] { return second.done.has_value(); }));
  EXPECT_EQ(first.body, "answer for /first");
  EXPECT_EQ(second.body, "answer for /second");
  EXPECT_EQ(second.done->error, ErrorKind::kNone);
  EXPECT_EQ(server.accepts(), 1);
}

// A lull between bursts must not cost the next burst new TCP connections.
TEST_F(UpstreamClient, IdleConnectionsSurviveALullBetweenBursts) {
  TestServer server([](int fd, const HttpRequest& request) {
    sendAll(fd, response(200, "OK", "answer for " + request.path()));
    return true;
  });
  Client client(io_, Options{});
  auto burst = [&](int transfers) {
    std::vector<Recorder> recorders(transfers);
    int finished = 0;
    for (int i = 0; i < transfers; ++i) {
      recorders[i].onDone = [&] { ++finished; };
      client.start(get(server.url("/" + std::to_string(i))), recorders[i].handlers());
    }
    return runUntil([&] { return finished == transfers; });
  };
  ASSERT_TRUE(burst(8));
  ASSERT_TRUE(burst(1));
  ASSERT_TRUE(burst(8));
  EXPECT_EQ(server.accepts(), 8);
}

TEST_F(UpstreamClient, TwoHundredConcurrentTransfersAllComplete) {
  TestServer server([](int fd, const HttpRequest& request) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("answer for ") +
                    chunk(request.path()) + "0\r\n\r\n");
    return true;
  });
  Client client(io_, Options{});
  constexpr int kTransfers = 200;
  std::vector<Recorder> recorders(kTransfers);
  int finished = 0;
  for (int i = 0; i < kTransfers; ++i) {
    recorders[i].onDone = [&] { ++finished; };
    client.start(get(server.url("/" + std::to_string(i))), recorders[i].handlers());
  }

  ASSERT_TRUE(runUntil([&] { return finished == kTransfers; }, 30s)) << finished << " finished";
  for (int i = 0; i < kTransfers; ++i) {
    EXPECT_EQ(recorders[i].done->error, ErrorKind::kNone)
        << i << ": " << recorders[i].done->message;
    EXPECT_EQ(recorders[i].body, "answer for /" + std::to_string(i));
  }
}

size_t openDescriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++count;
  return count;
}

// The descriptor budget decides how many streams a gateway can hold: each open backend transfer
// may cost the one socket it needs, not a second one for the event loop.
TEST_F(UpstreamClient, AnOpenTransferHoldsOneDescriptor) {
  Signal release;
  TestServer server([&](int fd, const HttpRequest&) {
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("first"));
    release.waitFor(10s);
    sendAll(fd, chunk(" last") + "0\r\n\r\n");
    return false;
  });
  Client client(io_, Options{});
  constexpr int kTransfers = 50;
  std::vector<Recorder> recorders(kTransfers);
  const size_t before = openDescriptors();
  for (int i = 0; i < kTransfers; ++i) client.start(get(server.url()), recorders[i].handlers());
  ASSERT_TRUE(runUntil([&] {
    for (const Recorder& r : recorders)
      if (r.body.empty()) return false;
    return true;
  }));
  // Each transfer: the client's socket plus the test server's end of it, in this process.
  const size_t during = openDescriptors();
  EXPECT_LE(during - before, 2u * kTransfers + 4)
      << "descriptors while " << kTransfers << " transfers are open";
  release.set();
  ASSERT_TRUE(runUntil([&] {
    for (const Recorder& r : recorders)
      if (!r.done) return false;
    return true;
  }));
  for (const Recorder& r : recorders) {
    EXPECT_EQ(r.done->error, ErrorKind::kNone);
    EXPECT_EQ(r.body, "first last");
  }
}

TEST_F(UpstreamClient, PlainHttpGoesThroughTheProxyInAbsoluteFormWithItsCredentials) {
  std::mutex mutex;
  std::string requestLine;
  std::string proxyAuthorization;
  TestServer proxy([&](int fd, const HttpRequest& request) {
    {
      std::lock_guard lock(mutex);
      requestLine = request.line;
      proxyAuthorization = request.header("Proxy-Authorization");
    }
    sendAll(fd, response(200, "OK", "from the proxy"));
    return true;
  });
  Options options;
  options.proxyUrl = "http://user:secret@127.0.0.1:" + std::to_string(proxy.port());
  Client client(io_, options);
  Recorder recorder;
  std::string target = "http://127.0.0.1:" + std::to_string(closedPort()) + "/via";
  client.start(get(target), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kNone);
  EXPECT_EQ(recorder.body, "from the proxy");
  std::lock_guard lock(mutex);
  EXPECT_EQ(requestLine, "GET " + target + " HTTP/1.1");
  EXPECT_EQ(proxyAuthorization, "Basic dXNlcjpzZWNyZXQ=");  // user:secret
}

TEST_F(UpstreamClient, UnreachableProxyIsAProxyError) {
  Options options;
  options.proxyUrl = "http://127.0.0.1:" + std::to_string(closedPort());
  Client client(io_, options);
  Recorder recorder;
  client.start(get("http://example.invalid/"), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kProxy) << recorder.done->message;
}

TEST_F(UpstreamClient, ProxyRefusingTheTunnelIsAProxyError) {
  TestServer proxy([](int fd, const HttpRequest& request) {
    EXPECT_EQ(request.line.rfind("CONNECT ", 0), 0u) << request.line;
    sendAll(fd, response(403, "Forbidden", ""));
    return false;
  });
  Options options;
  options.proxyUrl = "http://127.0.0.1:" + std::to_string(proxy.port());
  Client client(io_, options);
  Recorder recorder;
  client.start(get("https://backend.example/"), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }));
  EXPECT_EQ(recorder.done->error, ErrorKind::kProxy) << recorder.done->message;
  EXPECT_TRUE(recorder.statuses.empty());
}

TEST_F(UpstreamClient, SilentSocksProxyIsAConnectTimeout) {
  TestServer proxy([](int, const HttpRequest&) { return false; });  // never answers the greeting
  Options options;
  options.proxyUrl = "socks5h://127.0.0.1:" + std::to_string(proxy.port());
  options.connectTimeout = 200ms;
  Client client(io_, options);
  Recorder recorder;
  client.start(get("http://backend.example/"), recorder.handlers());

  ASSERT_TRUE(runUntil([&] { return recorder.done.has_value(); }, 5s));
  EXPECT_EQ(recorder.done->error, ErrorKind::kConnectTimeout) << recorder.done->message;
}

TEST(UpstreamDescribe, EveryKindHasAMessage) {
  for (ErrorKind kind :
       {ErrorKind::kNone, ErrorKind::kConnect, ErrorKind::kTls, ErrorKind::kProxy,
        ErrorKind::kConnectTimeout, ErrorKind::kFirstByteTimeout, ErrorKind::kIdleTimeout,
        ErrorKind::kTooLarge, ErrorKind::kProtocol, ErrorKind::kOther}) {
    EXPECT_FALSE(describe(kind).empty());
  }
  EXPECT_EQ(describe(ErrorKind::kFirstByteTimeout),
            "timed out waiting for the backend's first byte");
}

}  // namespace
}  // namespace upstream
