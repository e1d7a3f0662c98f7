// The WebSocket client against a real WebSocket server on 127.0.0.1 (Beast, blocking, one
// thread, scripted per test): frames both ways in order, a refused upgrade, close codes, the
// first-byte and idle deadlines, pause and resume, cancel, the frame size limit, a dead port.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "upstream/ws_client.h"

namespace upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using Ws = websocket::stream<tcp::socket>;

// Accepts one connection and runs `script` on it in a thread.
class Server {
 public:
  explicit Server(std::function<void(tcp::socket&)> script)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, script = std::move(script)] {
      beast::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) return;
      try {
        script(socket);
      } catch (const std::exception&) {
        // the client went away: the test looks at what the client saw
      }
    });
  }
  ~Server() {
    beast::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  std::string url(std::string_view path = "/ws") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
};

// Accepts the upgrade (checking the key header) and runs `then` on the WebSocket.
std::function<void(tcp::socket&)> webSocket(std::function<void(Ws&)> then) {
  return [then = std::move(then)](tcp::socket& socket) {
    Ws ws(std::move(socket));
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> req;
    beast::http::read(ws.next_layer(), buffer, req);
    if (req[beast::http::field::authorization] != "Bearer key-1") throw std::runtime_error("key");
    ws.accept(req);
    ws.text(true);
    then(ws);
  };
}

std::string readText(Ws& ws) {
  beast::flat_buffer b;
  ws.read(b);
  return beast::buffers_to_string(b.data());
}

struct Outcome {
  bool opened = false;
  std::vector<std::string> frames;
  std::optional<WsResult> result;
};

WsOptions fastOptions() {
  WsOptions o;
  o.connectTimeout = 2000ms;
  o.firstByteTimeout = 2000ms;
  o.idleTimeout = 2000ms;
  return o;
}

// Runs one session to its end (or `limit`) on a fresh io_context.
Outcome runSession(const std::string& url, WsOptions options = fastOptions(),
                   std::function<Flow(WsHandle&, const std::string&, Outcome&)> onFrame = {},
                   std::vector<std::string> sendOnOpen = {}, std::chrono::milliseconds limit = 5s) {
  asio::io_context io;
  WsClient client(io, options);
  Outcome out;
  WsHandle handle;
  WsHandlers h;
  h.onOpen = [&] {
    out.opened = true;
    for (auto& f : sendOnOpen) handle.send(f);
  };
  h.onFrame = [&](std::string_view frame) {
    out.frames.emplace_back(frame);
    return onFrame ? onFrame(handle, std::string(frame), out) : Flow::kContinue;
  };
  h.onDone = [&](const WsResult& r) { out.result = r; };
  handle = client.start(WsRequest{url, {"Authorization: Bearer key-1"}}, std::move(h));
  io.run_for(limit);
  return out;
}

TEST(WsClient, FramesFlowBothWaysInOrderAndTheServersCloseEndsTheSession) {
  Server server(webSocket([](Ws& ws) {
    ws.write(asio::buffer(std::string("Ready")));
    const std::string query = readText(ws);
    ws.write(asio::buffer("one:" + query));
    ws.write(asio::buffer(std::string("two")));
    ws.close(websocket::close_code::normal);
  }));
  Outcome out = runSession(server.url(), fastOptions(), {}, {"UserQuery {}\n"});
  EXPECT_TRUE(out.opened);
  EXPECT_EQ(out.frames, (std::vector<std::string>{"Ready", "one:UserQuery {}\n", "two"}));
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kNone);
  EXPECT_EQ(out.result->closeCode, 1000);
}

TEST(WsClient, ARefusedUpgradeGivesItsStatus) {
  Server server([](tcp::socket& socket) {
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> req;
    beast::http::read(socket, buffer, req);
    beast::http::response<beast::http::string_body> res{beast::http::status::unauthorized, 11};
    res.body() = R"({"detail":"Invalid API key"})";
    res.prepare_payload();
    beast::http::write(socket, res);
  });
  Outcome out = runSession(server.url());
  EXPECT_FALSE(out.opened);
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->status, 401);
  EXPECT_NE(out.result->error, ErrorKind::kNone);
}

TEST(WsClient, ACloseWithPolicyViolationReportsCode1008) {
  Server server(webSocket([](Ws& ws) { ws.close(websocket::close_code::policy_error); }));
  Outcome out = runSession(server.url());
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->closeCode, 1008);
}

TEST(WsClient, SilenceAfterTheUpgradeIsAFirstByteTimeoutAndMidAnswerAnIdleTimeout) {
  WsOptions o = fastOptions();
  o.firstByteTimeout = 300ms;
  o.idleTimeout = 300ms;
  {
    Server server(webSocket([](Ws& ws) { readText(ws); }));
    Outcome out = runSession(server.url(), o);
    ASSERT_TRUE(out.result);
    EXPECT_EQ(out.result->error, ErrorKind::kFirstByteTimeout);
  }
  Server server(webSocket([](Ws& ws) {
    ws.write(asio::buffer(std::string("Ready")));
    readText(ws);
  }));
  Outcome out = runSession(server.url(), o);
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(out.result->error, ErrorKind::kIdleTimeout);
}

TEST(WsClient, AShortIdleTimeoutAfterALongFirstByteTimeoutFiresOnTime) {
  WsOptions o = fastOptions();
  o.firstByteTimeout = 5000ms;  // the wait in flight when the first frame comes
  o.idleTimeout = 300ms;
  Server server(webSocket([](Ws& ws) {
    ws.write(asio::buffer(std::string("Ready")));
    readText(ws);
  }));
  const auto started = std::chrono::steady_clock::now();
  Outcome out = runSession(server.url(), o);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kIdleTimeout);
  EXPECT_LT(took, 1500ms) << "the idle deadline waited for an earlier, longer one";
}

TEST(WsClient, APausedSessionReadsNothingUntilResumed) {
  Server server(webSocket([](Ws& ws) {
    for (int i = 0; i < 3; ++i) ws.write(asio::buffer("f" + std::to_string(i)));
    ws.close(websocket::close_code::normal);
  }));
  asio::io_context io;
  WsClient client(io, fastOptions());
  std::vector<std::string> frames;
  std::vector<std::string> beforeResume;
  std::optional<WsResult> result;
  WsHandle handle;
  asio::steady_timer later(io);
  WsHandlers h;
  h.onFrame = [&](std::string_view frame) {
    frames.emplace_back(frame);
    if (frame != "f0") return Flow::kContinue;
    later.expires_after(200ms);
    later.async_wait([&](beast::error_code) {
      beforeResume = frames;
      handle.resume();
    });
    return Flow::kPause;
  };
  h.onDone = [&](const WsResult& r) { result = r; };
  handle = client.start(WsRequest{server.url(), {"Authorization: Bearer key-1"}}, std::move(h));
  io.run_for(5s);
  EXPECT_EQ(beforeResume, (std::vector<std::string>{"f0"}));
  EXPECT_EQ(frames, (std::vector<std::string>{"f0", "f1", "f2"}));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->closeCode, 1000);
}

TEST(WsClient, AFrameBeyondTheLimitFailsTheSession) {
  WsOptions o = fastOptions();
  o.maxFrameBytes = 1024;
  Server server(webSocket([](Ws& ws) {
    ws.write(asio::buffer(std::string(4096, 'x')));
    beast::error_code ec;
    beast::flat_buffer b;
    ws.read(b, ec);  // the client's close (1009)
  }));
  Outcome out = runSession(server.url(), o);
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kTooLarge) << out.result->message;
}

TEST(WsClient, CancelClosesTheSocketAtOnceAndCallsNothingMore) {
  std::atomic<long> closedAfterMs{-1};
  Server server(webSocket([&](Ws& ws) {
    ws.write(asio::buffer(std::string("Ready")));
    const auto start = std::chrono::steady_clock::now();
    beast::error_code ec;
    beast::flat_buffer b;
    ws.read(b, ec);  // ends when the client's socket closes
    closedAfterMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  }));
  Outcome out = runSession(
      server.url(), fastOptions(),
      [](WsHandle& handle, const std::string&, Outcome&) {
        handle.cancel();
        return Flow::kContinue;
      },
      {}, 1s);
  EXPECT_EQ(out.frames.size(), 1u);
  EXPECT_FALSE(out.result) << "no onDone after cancel";
  for (int i = 0; i < 50 && closedAfterMs < 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(closedAfterMs.load(), 0);
  EXPECT_LT(closedAfterMs.load(), 100);
}

TEST(WsClient, ADeadPortIsAConnectFailure) {
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = probe.local_endpoint().port();
  probe.close();
  Outcome out = runSession("ws://127.0.0.1:" + std::to_string(port) + "/ws");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kConnect);
}

TEST(WsClient, ANonWebSocketUrlIsRefused) {
  Outcome out = runSession("ftp://example.invalid/x");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kOther);
}

// ---- TLS --------------------------------------------------------------------------------------

// A self-signed certificate for `host` (PEM key and certificate), made with OpenSSL.
struct SelfSigned {
  std::string keyPem;
  std::string certPem;
};

SelfSigned selfSigned(const std::string& host) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::string san = "DNS:" + host;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert, key, EVP_sha256());
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  SelfSigned out;
  out.keyPem =
      pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  out.certPem = pem([&](BIO* b) { PEM_write_bio_X509(b, cert); });
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A wss:// server for one connection, presenting `cert`, that sends "Ready" and echoes once.
std::function<void(tcp::socket&)> tlsWebSocket(const SelfSigned& cert) {
  return [cert](tcp::socket& socket) {
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain(asio::buffer(cert.certPem));
    tls.use_private_key(asio::buffer(cert.keyPem), asio::ssl::context::pem);
    websocket::stream<asio::ssl::stream<tcp::socket>> ws(std::move(socket), tls);
    ws.next_layer().handshake(asio::ssl::stream_base::server);
    ws.accept();
    ws.text(true);
    ws.write(asio::buffer(std::string("Ready")));
    beast::flat_buffer b;
    ws.read(b);
    ws.write(b.data());
    ws.close(websocket::close_code::normal);
  };
}

// The system's trust store plus `certPem`, through SSL_CERT_FILE (what OpenSSL's default
// verify paths read), for the life of the object.
class TrustedFor {
 public:
  explicit TrustedFor(const std::string& certPem) {
    path_ = std::filesystem::temp_directory_path() /
            ("qodo2api-ws-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(path_) << certPem;
    ::setenv("SSL_CERT_FILE", path_.c_str(), 1);
  }
  ~TrustedFor() {
    ::unsetenv("SSL_CERT_FILE");
    std::filesystem::remove(path_);
  }

 private:
  std::filesystem::path path_;
};

TEST(WsClient, WssVerifiesTheServerAndCarriesFramesOverTls) {
  const SelfSigned cert = selfSigned("localhost");
  TrustedFor trust(cert.certPem);
  Server server(tlsWebSocket(cert));
  const std::string url = "wss://localhost:" + server.url().substr(server.url().rfind(':') + 1);
  Outcome out = runSession(url, fastOptions(), {}, {"UserQuery {}\n"});
  EXPECT_TRUE(out.opened);
  EXPECT_EQ(out.frames, (std::vector<std::string>{"Ready", "UserQuery {}\n"}));
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kNone) << out.result->message;
  EXPECT_EQ(out.result->closeCode, 1000);
}

TEST(WsClient, WssRefusesACertificateForAnotherHost) {
  const SelfSigned cert = selfSigned("api.example.test");
  TrustedFor trust(cert.certPem);
  Server server(tlsWebSocket(cert));
  const std::string url = "wss://localhost:" + server.url().substr(server.url().rfind(':') + 1);
  Outcome out = runSession(url);
  EXPECT_FALSE(out.opened);
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->error, ErrorKind::kTls) << out.result->message;
}

}  // namespace
}  // namespace upstream
