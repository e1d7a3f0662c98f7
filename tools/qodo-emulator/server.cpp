// Connection life: read → route → answer → repeat (Beast's async server example, with
// coroutines). A chat answer is written frame by frame with the scripted interval; a watch on
// the socket notices a client that goes away while the emulator is waiting, so early closes
// are counted even between writes.
#include "server.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <cstdio>
#include <exception>
#include <random>

#include "answer.h"
#include "gzip.h"

namespace emu {
namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
namespace urls = boost::urls;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Request = http::request<http::string_body>;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kMaxBodyBytes = 64 << 20;
constexpr std::size_t kFillChunk = 64 << 10;
constexpr const char* kInvalidToken = R"({"error":"Invalid token"})";

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double unixNowPrecise() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json::object headersOf(const Request& req) {
  json::object h;
  for (const auto& f : req) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    h[name] = std::string(f.value());
  }
  return h;
}

bool acceptsGzip(const Request& req) {
  auto v = req[http::field::accept_encoding];
  return v.find("gzip") != boost::beast::string_view::npos;
}

// Notices the client closing its end while the server is between writes or hanging. It peeks,
// never reads, so a pipelined next request stays in the socket for the session.
struct ClientWatch : std::enable_shared_from_this<ClientWatch> {
  explicit ClientWatch(tcp::socket& s) : sock(s), timer(s.get_executor()) {}

  void arm() {
    sock.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      // After stop() the session may already have moved on or released the socket.
      if (self->done || ec == net::error::operation_aborted) return;
      if (!ec) {
        char c;
        error_code pe;
        std::size_t n = self->sock.receive(net::buffer(&c, 1), tcp::socket::message_peek, pe);
        if (pe == net::error::would_block) return self->arm();
        if (!pe && n > 0) return;  // more request bytes, not a close
      }
      self->closed = true;
      self->timer.cancel();
    });
  }

  // Sleeps; false when the client went away meanwhile.
  net::awaitable<bool> pause(std::chrono::milliseconds d) {
    if (!closed && d.count() > 0) {
      timer.expires_after(d);
      co_await timer.async_wait(kTuple);
    }
    co_return !closed;
  }

  net::awaitable<void> untilClosed() {
    while (!closed) {
      timer.expires_at(net::steady_timer::time_point::max());
      co_await timer.async_wait(kTuple);
    }
  }

  void stop() {
    done = true;
    error_code ec;
    sock.cancel(ec);
    timer.cancel();
  }

  tcp::socket& sock;
  net::steady_timer timer;
  bool closed = false;
  bool done = false;
};

// Keeps the open-streams gauge right on every way out of a handler.
struct OpenStream {
  explicit OpenStream(Registry& r) : registry(r) { registry.streamOpened(); }
  ~OpenStream() { registry.streamClosed(); }
  Registry& registry;
};

net::awaitable<bool> writeResponse(tcp::socket& sock, http::status status,
                                   std::string_view contentType, std::string body, bool keepAlive) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "qodo-emulator");
  res.set(http::field::content_type, contentType);
  res.body() = std::move(body);
  res.keep_alive(keepAlive);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(sock, res, kTuple);
  co_return !ec;
}

net::awaitable<bool> writeJson(tcp::socket& sock, http::status status, const json::value& v,
                               bool keepAlive) {
  co_return co_await writeResponse(sock, status, "application/json; charset=utf-8",
                                   json::serialize(v), keepAlive);
}

// A chunked body, optionally gzip-compressed with a flush per write.
class ChunkedBody {
 public:
  ChunkedBody(tcp::socket& sock, bool gzip) : sock_(sock) {
    if (gzip) gzip_ = std::make_unique<GzipStream>();
  }

  net::awaitable<bool> header(http::status status, std::string_view contentType,
                              bool contentEncodingGzip, bool keepAlive) {
    http::response<http::empty_body> res{status, 11};
    res.set(http::field::server, "qodo-emulator");
    res.set(http::field::content_type, contentType);
    if (contentEncodingGzip) res.set(http::field::content_encoding, "gzip");
    res.keep_alive(keepAlive);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(sock_, sr, kTuple);
    co_return !ec;
  }

  net::awaitable<bool> raw(std::string_view data) {
    if (data.empty()) co_return true;
    auto [ec, n] = co_await net::async_write(
        sock_, http::make_chunk(net::buffer(data.data(), data.size())), kTuple);
    co_return !ec;
  }

  net::awaitable<bool> write(std::string_view data) {
    if (!gzip_) co_return co_await raw(data);
    std::string z = gzip_->compress(data, false);
    co_return co_await raw(z);
  }

  // `fill` bytes of 'x' then a newline, without holding them all in memory.
  net::awaitable<bool> fill(std::uint64_t bytes) {
    static const std::string kChunk(kFillChunk, 'x');
    while (bytes > 0) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, kFillChunk));
      if (!co_await write(std::string_view(kChunk).substr(0, n))) co_return false;
      bytes -= n;
    }
    co_return co_await write("\n");
  }

  net::awaitable<bool> finish() {
    if (gzip_) {
      std::string z = gzip_->compress({}, true);
      if (!co_await raw(z)) co_return false;
    }
    auto [ec, n] = co_await net::async_write(sock_, http::make_chunk_last(), kTuple);
    co_return !ec;
  }

 private:
  tcp::socket& sock_;
  std::unique_ptr<GzipStream> gzip_;
};

// GCC 12 rejects braced JSON initializer lists inside coroutines ("array used as
// initializer"), so every JSON the handlers send or record is built by these plain functions.

json::value okBody() { return json::object{{"ok", true}}; }

json::value plainError(const std::string& message) { return json::object{{"error", message}}; }

json::value firebaseError(int code, const std::string& message, const std::string& status) {
  return json::object{
      {"error", json::object{{"code", code}, {"message", message}, {"status", status}}}};
}

json::value apiKeyError() {
  json::value err =
      firebaseError(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT");
  err.as_object()["error"].as_object()["details"] =
      json::array{json::object{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                               {"reason", "API_KEY_INVALID"},
                               {"domain", "googleapis.com"}}};
  return err;
}

json::object tokenRecord(const Request& req, bool hasKey, const std::string& apiKey,
                         const std::string& grantType, const std::string& refreshToken) {
  return json::object{{"kind", "token"},
                      {"time", unixNowPrecise()},
                      {"key", hasKey ? json::value(apiKey) : json::value(nullptr)},
                      {"grant_type", grantType},
                      {"refresh_token", refreshToken},
                      {"content_type", std::string(req[http::field::content_type])},
                      {"headers", headersOf(req)}};
}

json::value tokenAnswer(const Exchange& ex) {
  return json::object{
      {"access_token", ex.accessToken}, {"expires_in", std::to_string(ex.behaviour.expiresIn)},
      {"token_type", "Bearer"},         {"refresh_token", ex.refreshToken},
      {"id_token", ex.accessToken},     {"user_id", ex.userId},
      {"project_id", "123456789012"}};
}

json::object chatRecord(const Request& req, const ChatGrant& grant, bool bodyIsJson,
                        const json::value& body) {
  return json::object{
      {"kind", "chat"},
      {"time", unixNowPrecise()},
      {"account", grant.account.empty() ? json::value(nullptr) : json::value(grant.account)},
      {"token_ordinal", grant.ordinal},
      {"headers", headersOf(req)},
      {"body", bodyIsJson ? body : json::value(req.body())},
      {"behaviour", grant.authorized ? grant.behaviour.failName : "none"}};
}

std::string bearerOf(const Request& req) {
  std::string auth(req[http::field::authorization]);
  return auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : auth;
}

// "YYYYMMDD-<uuid4>", the shape of the CLI's session ids.
std::string newSessionId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t a = rng();
  const std::uint64_t b = rng();
  char buf[64];
  std::snprintf(buf, sizeof buf, "20261201-%08x-%04x-4%03x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16) & 0xffff,
                static_cast<unsigned>(a) & 0xfff,
                0x8000 | (static_cast<unsigned>(b >> 48) & 0x3fff),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

json::object keyRecord(const char* kind, const Request& req, const std::string& account) {
  return json::object{{"kind", kind},
                      {"time", unixNowPrecise()},
                      {"account", account.empty() ? json::value(nullptr) : json::value(account)},
                      {"target", std::string(req.target())},
                      {"headers", headersOf(req)}};
}

// A server frame of the command WebSocket: {"session_id":…,"data":{"tool":…,…}}.
std::string serverFrame(const std::string& sessionId, json::object data) {
  return json::serialize(json::object{{"session_id", sessionId}, {"data", std::move(data)}});
}

json::value unauthorizedKey() { return json::object{{"detail", "Invalid API key"}}; }

json::value sessionIdBody() { return json::object{{"session-id", newSessionId()}}; }

json::value infoBody(const InfoBehaviour& b) {
  json::array models;
  for (const auto& m : b.models) models.push_back(json::object{{"model_name", m}});
  json::object body{{"models", std::move(models)},  {"default_model", b.defaultModel},
                    {"session-id", newSessionId()}, {"recent-sessions", json::array()},
                    {"mcp-tools", json::object()},  {"version", "qodo-emulator"}};
  if (!b.baseUrl.empty()) body["base_url"] = b.baseUrl;
  return body;
}

std::string readyFrame(const std::string& sessionId, int n) {
  return serverFrame(
      sessionId,
      json::object{{"tool", "Ready"},
                   {"tool_args", json::object{{"checkpoint_id", "cp-" + std::to_string(n)}}}});
}

std::string textFrame(const std::string& sessionId, const std::string& identifier,
                      const std::string& content) {
  return serverFrame(sessionId, json::object{{"tool", "UserResponse"},
                                             {"identifier", identifier},
                                             {"tool_args", json::object{{"content", content}}}});
}

std::string endFrame(const std::string& sessionId) {
  return serverFrame(sessionId, json::object{{"tool", "EndNode"}});
}

std::string errorFrame(const std::string& message) {
  return json::serialize(json::object{{"type", "error"}, {"message", message}});
}

std::string toolCallFrame(const std::string& sessionId, const SessionBehaviour& b) {
  error_code ec;
  json::value args = json::parse(b.toolArguments, ec);
  if (ec) args = json::object();
  json::object data{{"tool", b.toolCall},
                    {"server_name", b.toolServerRun ? "qodo_tools" : "client"},
                    {"identifier", "call-1"},
                    {"tool_args", std::move(args)}};
  if (b.toolServerRun)
    data["tool_result"] = json::object{{"isError", false}, {"content", "ran on the server"}};
  return serverFrame(sessionId, std::move(data));
}

json::value modelList() {
  json::array data;
  for (const char* id : {"gpt-4o", "claude-3-7-sonnet", "deepseek-r1", "o3-mini"})
    data.push_back(json::object{
        {"id", id}, {"object", "model"}, {"created", 1700000000}, {"owned_by", "qodo"}});
  return json::object{{"object", "list"}, {"data", std::move(data)}};
}

json::value openAiError(const std::string& message) {
  return json::object{{"error", json::object{{"message", message},
                                             {"type", "invalid_request_error"},
                                             {"param", nullptr},
                                             {"code", nullptr}}}};
}

json::object openAiRecord(const Request& req, const json::value& body) {
  return json::object{
      {"kind", "openai"}, {"time", unixNowPrecise()}, {"headers", headersOf(req)}, {"body", body}};
}

json::object openAiUsage(std::size_t promptTokens, std::size_t completionTokens) {
  return json::object{{"prompt_tokens", promptTokens},
                      {"completion_tokens", completionTokens},
                      {"total_tokens", promptTokens + completionTokens}};
}

json::object openAiChunk(const std::string& id, std::int64_t created, const std::string& model,
                         json::object delta, json::value finishReason) {
  return json::object{
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", model},
      {"choices", json::array{json::object{{"index", 0},
                                           {"delta", std::move(delta)},
                                           {"finish_reason", std::move(finishReason)}}}}};
}

json::object contentDelta(const std::string& piece, bool first) {
  json::object delta{{"content", piece}};
  if (first) delta["role"] = "assistant";
  return delta;
}

json::value usageChunk(const std::string& id, std::int64_t created, const std::string& model,
                       const json::object& usage) {
  return json::object{{"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
                      {"model", model}, {"choices", json::array{}},          {"usage", usage}};
}

json::value openAiCompletion(const std::string& id, std::int64_t created, const std::string& model,
                             const std::string& content, const json::object& usage) {
  return json::object{
      {"id", id},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices", json::array{json::object{
                      {"index", 0},
                      {"message", json::object{{"role", "assistant"}, {"content", content}}},
                      {"finish_reason", "stop"}}}},
      {"usage", usage}};
}

class Session {
 public:
  Session(tcp::socket sock, Registry& registry, const ServerOptions& options)
      : sock_(std::move(sock)), registry_(registry), options_(options) {}

  net::awaitable<void> run() {
    error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    sock_.non_blocking(true, ec);
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBodyBytes);
      auto [rec, n] = co_await http::async_read(sock_, buffer, parser, kTuple);
      if (rec) break;
      Request& req = parser.get();
      bool keep = co_await route(req);
      if (!keep || !req.keep_alive()) break;
    }
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
  }

 private:
  // Returns whether the connection may serve another request.
  net::awaitable<bool> route(Request& req) {
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    bool post = req.method() == http::verb::post;
    bool get = req.method() == http::verb::get;
    bool keep = req.keep_alive();
    if (post && path == "/v1/token") co_return co_await token(req);
    if (post && path == "/v2/chats/chat") co_return co_await chat(req);
    if (post && path == "/v1/chat/completions") co_return co_await openAiChat(req);
    if (get && path == "/v1/models") co_return co_await models(keep);
    if (get && path == "/v2/info/get-things") co_return co_await getThings(req);
    if (get && path == "/v2/agentic/ws/connect") co_return co_await commandSession(req);
    if (get && path == "/_emulator/stats")
      co_return co_await writeJson(sock_, http::status::ok, registry_.stats(), keep);
    if (post && path == "/_emulator/scenario") co_return co_await replaceScenario(req);
    if (post && path == "/_emulator/reset") {
      registry_.reset();
      co_return co_await writeJson(sock_, http::status::ok, okBody(), keep);
    }
    if (get && path == "/_emulator/health")
      co_return co_await writeJson(sock_, http::status::ok, okBody(), keep);
    co_return co_await writeJson(
        sock_, http::status::not_found,
        plainError("no such route: " + std::string(req.method_string()) + " " + std::string(path)),
        keep);
  }

  // ---- Firebase securetoken ----------------------------------------------------------------

  net::awaitable<bool> token(Request& req) {
    bool keep = req.keep_alive();
    std::string target(req.target());
    std::string apiKey;
    bool hasKey = false;
    if (auto u = urls::parse_origin_form(target)) {
      auto it = u->params().find("key");
      if (it != u->params().end()) {
        hasKey = true;
        apiKey = (*it).value;
      }
    }
    std::string grantType, refreshToken;
    if (auto q = urls::parse_query(req.body())) {
      for (auto p : *q) {
        urls::encoding_opts opts;
        opts.space_as_plus = true;
        std::string key = p.key.decode(opts);
        std::string value = p.has_value ? p.value.decode(opts) : std::string();
        if (key == "grant_type") grantType = value;
        if (key == "refresh_token") refreshToken = value;
      }
    }
    json::object rec = tokenRecord(req, hasKey, apiKey, grantType, refreshToken);
    std::uint64_t id = registry_.record(std::move(rec));
    registry_.count("token_requests");

    std::string expected = registry_.expectedApiKey();
    if (apiKey.empty() || (!expected.empty() && apiKey != expected)) {
      registry_.finish(id, {}, "token_bad_api_key");
      co_return co_await writeJson(sock_, http::status::bad_request, apiKeyError(), keep);
    }
    if (grantType != "refresh_token") {
      registry_.finish(id, {}, "token_refused");
      co_return co_await writeJson(sock_, http::status::bad_request,
                                   firebaseError(400, "INVALID_GRANT_TYPE", "INVALID_ARGUMENT"),
                                   keep);
    }
    if (refreshToken.empty()) {
      registry_.finish(id, {}, "token_refused");
      co_return co_await writeJson(sock_, http::status::bad_request,
                                   firebaseError(400, "MISSING_REFRESH_TOKEN", "INVALID_ARGUMENT"),
                                   keep);
    }

    Exchange ex = registry_.exchange(refreshToken, Clock::now());
    switch (ex.kind) {
      case Exchange::Kind::kRefused:
        registry_.finish(id, ex.account, "token_refused");
        co_return co_await writeJson(
            sock_, http::status::bad_request,
            firebaseError(400, "INVALID_REFRESH_TOKEN", "INVALID_ARGUMENT"), keep);
      case Exchange::Kind::kScripted: {
        const TokenBehaviour& b = ex.behaviour;
        registry_.finish(id, ex.account, "token_failed");
        if (b.fail == TokenFail::kHang) {
          auto watch = std::make_shared<ClientWatch>(sock_);
          watch->arm();
          co_await watch->untilClosed();
          watch->stop();
          co_return false;
        }
        if (b.fail == TokenFail::kStatus) {
          auto st = static_cast<http::status>(b.status);
          co_return co_await writeJson(sock_, st, firebaseError(b.status, "INTERNAL", "INTERNAL"),
                                       keep);
        }
        co_return co_await writeJson(sock_, http::status::bad_request,
                                     firebaseError(400, b.errorMessage, "INVALID_ARGUMENT"), keep);
      }
      case Exchange::Kind::kIssued:
        break;
    }
    registry_.finish(id, ex.account, "token_issued");
    co_return co_await writeJson(sock_, http::status::ok, tokenAnswer(ex), keep);
  }

  // ---- Command backend: account info -------------------------------------------------------

  net::awaitable<bool> getThings(Request& req) {
    const bool keep = req.keep_alive();
    KeyGrant<InfoBehaviour> grant = registry_.authorizeInfo(bearerOf(req));
    const std::uint64_t id = registry_.record(keyRecord("get_things", req, grant.account));
    registry_.count("get_things_requests", grant.account);
    const InfoBehaviour& b = grant.behaviour;
    if (b.delayMs > 0) {
      net::steady_timer wait(sock_.get_executor(), std::chrono::milliseconds(b.delayMs));
      co_await wait.async_wait(kTuple);
    }
    if (!grant.authorized) {
      registry_.finish(id, grant.account, "get_things_unauthorized");
      co_return co_await writeJson(sock_, http::status::unauthorized, unauthorizedKey(), keep);
    }
    if (b.fail == InfoFail::kStatus) {
      registry_.finish(id, grant.account, "get_things_failed");
      co_return co_await writeJson(sock_, static_cast<http::status>(b.status),
                                   plainError("Internal Server Error"), keep);
    }
    if (b.fail == InfoFail::kGarbage) {
      registry_.finish(id, grant.account, "get_things_failed");
      co_return co_await writeResponse(sock_, http::status::ok, "text/html; charset=utf-8",
                                       "<html>maintenance</html>", keep);
    }
    registry_.finish(id, grant.account, "get_things_answered");
    if (std::string_view(req.target()).find("section=session-id") != std::string_view::npos) {
      co_return co_await writeJson(sock_, http::status::ok, sessionIdBody(), keep);
    }
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::server, "qodo-emulator");
    res.set(http::field::content_type, "application/json; charset=utf-8");
    if (b.quotaLimit >= 0) {
      res.set("x-ratelimit-limit", std::to_string(b.quotaLimit));
      res.set("x-ratelimit-remaining", std::to_string(b.quotaRemaining));
      res.set("x-ratelimit-reset", std::to_string(unixNow() + b.quotaResetIn));
    }
    res.body() = json::serialize(infoBody(b));
    res.keep_alive(keep);
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(sock_, res, kTuple);
    co_return !ec;
  }

  // ---- Command backend: one WebSocket session ------------------------------------------------
  // Ready → the client's UserQuery → UserResponse frames → (a client tool call → Ready → its
  // IDERetrievalAnswer → more text) → EndNode → Ready. The socket then belongs to the session.

  // ---- --replay: a recorded exchange, byte for byte -------------------------------------------

  // Sleeps until `at` after `start`, never longer than kMaxGap at a time.
  net::awaitable<void> paceTo(net::steady_timer& timer, Clock::time_point& last,
                              std::chrono::milliseconds at, Clock::time_point start) {
    auto due = start + at;
    if (due > last + kMaxGap) due = last + kMaxGap;
    if (due > Clock::now()) {
      timer.expires_at(due);
      co_await timer.async_wait(kTuple);
    }
    last = Clock::now();
  }

  net::awaitable<bool> replayChat(Request& req) {
    const Recording& r = *options_.replay;
    const std::uint64_t id = registry_.record(json::object{{"kind", "replay"}, {"backend", "chats"}});
    registry_.count("replay_requests");
    ChunkedBody body(sock_, false);
    if (!co_await body.header(static_cast<http::status>(r.status), "text/plain; charset=utf-8",
                              false, false)) {
      registry_.finish(id, "", "replay_client_closed");
      co_return false;
    }
    net::steady_timer timer(sock_.get_executor());
    const auto start = Clock::now();
    auto last = start;
    for (const auto& step : r.steps) {
      if (step.kind != ReplayStep::Kind::kData) continue;
      co_await paceTo(timer, last, step.at, start);
      if (!co_await body.raw(step.bytes)) {
        registry_.finish(id, "", "replay_client_closed");
        co_return false;
      }
    }
    co_await body.finish();
    registry_.finish(id, "", "replay_completed");
    co_return false;
  }

  net::awaitable<bool> replaySession(Request& req) {
    const Recording& r = *options_.replay;
    const std::uint64_t id = registry_.record(json::object{{"kind", "replay"}, {"backend", "command"}});
    registry_.count("replay_requests");
    websocket::stream<tcp::socket> ws(std::move(sock_));
    auto [aec] = co_await ws.async_accept(req, kTuple);
    if (aec) {
      registry_.finish(id, "", "replay_client_closed");
      co_return false;
    }
    net::steady_timer timer(ws.get_executor());
    const auto start = Clock::now();
    auto last = start;
    boost::beast::flat_buffer in;
    for (const auto& step : r.steps) {
      if (step.kind == ReplayStep::Kind::kAwaitClient) {
        in.clear();
        auto [ec, n] = co_await ws.async_read(in, kTuple);
        if (ec) {
          registry_.finish(id, "", "replay_client_closed");
          co_return false;
        }
        registry_.annotate(id, "client_frame", boost::beast::buffers_to_string(in.data()));
        last = Clock::now();
        continue;
      }
      if (step.kind != ReplayStep::Kind::kFrame) continue;
      co_await paceTo(timer, last, step.at, start);
      ws.text(true);
      auto [ec, n] = co_await ws.async_write(net::buffer(step.bytes), kTuple);
      if (ec) {
        registry_.finish(id, "", "replay_client_closed");
        co_return false;
      }
    }
    // The recording ends where the gateway stopped reading; closing says the same.
    co_await ws.async_close(websocket::close_code::normal, kTuple);
    registry_.finish(id, "", "replay_completed");
    co_return false;
  }

  net::awaitable<bool> commandSession(Request& req) {
    if (options_.replay && options_.replay->backend == "command") co_return co_await replaySession(req);
    KeyGrant<SessionBehaviour> grant = registry_.authorizeSession(bearerOf(req));
    const std::uint64_t id = registry_.record(keyRecord("session", req, grant.account));
    registry_.count("command_sessions", grant.account);
    if (!grant.authorized || !websocket::is_upgrade(req)) {
      registry_.finish(id, grant.account, "session_unauthorized");
      co_return co_await writeJson(
          sock_, grant.authorized ? http::status::bad_request : http::status::unauthorized,
          plainError("Unauthorized"), false);
    }
    std::string sessionId = "emulated-session";
    if (auto u = urls::parse_origin_form(std::string(req.target()))) {
      if (auto it = u->params().find("session_id"); it != u->params().end())
        sessionId = (*it).value;
    }
    websocket::stream<tcp::socket> ws(std::move(sock_));
    auto [aec] = co_await ws.async_accept(req, kTuple);
    if (aec) {
      registry_.finish(id, grant.account, "session_client_closed");
      co_return false;
    }
    OpenStream open(registry_);
    const std::string outcome = co_await converse(ws, grant.behaviour, sessionId, id);
    registry_.finish(id, grant.account, outcome);
    co_return false;
  }

  net::awaitable<std::string> converse(websocket::stream<tcp::socket>& ws,
                                       const SessionBehaviour& b, const std::string& sessionId,
                                       std::uint64_t id) {
    auto send = [&](const std::string& frame) -> net::awaitable<bool> {
      ws.text(true);
      auto [ec, n] = co_await ws.async_write(net::buffer(frame), kTuple);
      co_return !ec;
    };
    auto ready = [&](int n) { return readyFrame(sessionId, n); };
    auto text = [&](const std::string& identifier, const std::string& content) {
      return textFrame(sessionId, identifier, content);
    };
    // Waits for the client's next frame; "" when the socket ended.
    boost::beast::flat_buffer in;
    auto receive = [&]() -> net::awaitable<std::string> {
      in.clear();
      auto [ec, n] = co_await ws.async_read(in, kTuple);
      if (ec) co_return std::string();
      co_return boost::beast::buffers_to_string(in.data());
    };
    auto silence = [&]() -> net::awaitable<std::string> {
      while (!(co_await receive()).empty()) {
      }
      co_return std::string("session_client_closed");
    };

    if (b.fail == SessionFail::kClose1008) {
      co_await ws.async_close(
          websocket::close_reason(websocket::close_code::policy_error, "Authentication failed"),
          kTuple);
      co_return std::string("session_closed_1008");
    }
    if (b.fail == SessionFail::kNoReady) co_return co_await silence();
    if (!co_await send(ready(0))) co_return std::string("session_client_closed");
    const std::string query = co_await receive();
    if (query.empty()) co_return std::string("session_client_closed");
    registry_.annotate(id, "frame", query);
    registry_.count("user_queries");

    // A call whose result the query already carries is not made again (a stateless loop).
    const bool callNow = !b.toolCall.empty() &&
                         (b.toolUnless.empty() || query.find(b.toolUnless) == std::string::npos);
    const auto interval = std::chrono::milliseconds(b.intervalMs);
    net::steady_timer pause(ws.get_executor());
    auto wait = [&]() -> net::awaitable<void> {
      if (interval.count() == 0) co_return;
      pause.expires_after(interval);
      co_await pause.async_wait(kTuple);
    };
    if (!b.think.empty() && !co_await send(text("u0", "<think>" + b.think + "</think>\n\n")))
      co_return std::string("session_client_closed");
    if (!b.toolCall.empty() && !callNow) {
      // The result is there: the answer after the call, and nothing else.
      if (!co_await send(text("u2", b.answerAfterTool)) || !co_await send(endFrame(sessionId)) ||
          !co_await send(ready(2)))
        co_return std::string("session_client_closed");
      co_await silence();
      co_return std::string("session_completed");
    }
    for (int i = 0; i < b.events; ++i) {
      if (b.fail != SessionFail::kNone && i == b.afterEvents) break;
      co_await wait();
      std::string piece = b.word + std::to_string(i) + (i + 1 < b.events ? " " : "");
      if (!co_await send(text("u1", piece))) co_return std::string("session_client_closed");
    }
    switch (b.fail) {
      case SessionFail::kErrorFrame:
        co_await send(errorFrame(b.message));
        co_await send(ready(1));
        co_return std::string("session_error_frame");
      case SessionFail::kStall:
        co_return co_await silence();
      case SessionFail::kClose: {
        error_code ec;
        ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
        ws.next_layer().close(ec);
        co_return std::string("session_cut");
      }
      default:
        break;
    }
    if (!b.toolCall.empty() && b.toolServerRun) {
      if (!co_await send(toolCallFrame(sessionId, b)) ||
          !co_await send(text("u2", b.answerAfterTool)))
        co_return std::string("session_client_closed");
    } else if (!b.toolCall.empty()) {
      if (!co_await send(toolCallFrame(sessionId, b)) || !co_await send(ready(1)))
        co_return std::string("session_client_closed");
      const std::string answer = co_await receive();
      if (answer.empty()) co_return std::string("session_tool_call_sent");
      registry_.annotate(id, "tool_answer", answer);
      if (!co_await send(text("u2", b.answerAfterTool)))
        co_return std::string("session_client_closed");
    }
    if (!co_await send(endFrame(sessionId)) || !co_await send(ready(2)))
      co_return std::string("session_client_closed");
    co_await silence();
    co_return std::string("session_completed");
  }

  // ---- Qodo chat ---------------------------------------------------------------------------

  net::awaitable<bool> chat(Request& req) {
    bool keep = req.keep_alive();
    if (options_.replay && options_.replay->backend == "chats") co_return co_await replayChat(req);
    std::string auth(req[http::field::authorization]);
    std::string accessToken = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : auth;
    ChatGrant grant = registry_.authorizeChat(accessToken, Clock::now());

    error_code jec;
    json::value body = json::parse(req.body(), jec);
    ChatRequestInfo info;
    if (!jec && body.is_object()) {
      const auto& o = body.get_object();
      if (auto it = o.find("chat_input"); it != o.end() && it->value().is_string())
        info.chatInput = it->value().get_string();
      info.conversation = info.chatInput;
      if (auto it = o.find("previous_messages"); it != o.end() && it->value().is_array())
        for (const auto& m : it->value().get_array())
          if (const auto* mo = m.if_object())
            if (auto c = mo->find("content"); c != mo->end() && c->value().is_string())
              info.conversation += "\n" + std::string(c->value().get_string());
      if (auto it = o.find("custom_model"); it != o.end() && it->value().is_string())
        info.customModel = it->value().get_string();
    }
    json::object rec = chatRecord(req, grant, !jec, body);
    std::uint64_t id = registry_.record(std::move(rec));
    registry_.count("chat_requests", grant.account);

    if (!grant.authorized) {
      registry_.finish(id, grant.account, "chat_unauthorized");
      co_return co_await writeResponse(sock_, http::status::unauthorized,
                                       "application/json; charset=utf-8", kInvalidToken, keep);
    }
    if (jec || !body.is_object()) {
      registry_.finish(id, grant.account, "chat_bad_request");
      co_return co_await writeJson(sock_, http::status::bad_request,
                                   plainError("Invalid request body"), keep);
    }

    OpenStream open(registry_);
    const ChatBehaviour& b = grant.behaviour;
    auto finish = [&](const char* outcome) { registry_.finish(id, grant.account, outcome); };

    bool failNow = b.fail == ChatFail::kStatus ||
                   (b.fail == ChatFail::kInvalidTokenFirst && grant.ordinal == 1);
    if (failNow) {
      finish("chat_scripted_failure");
      std::string_view type = b.body.empty() || b.body.front() == '{'
                                  ? "application/json; charset=utf-8"
                                  : "text/html; charset=utf-8";
      co_return co_await writeResponse(sock_, static_cast<http::status>(b.status), type, b.body,
                                       keep);
    }

    auto watch = std::make_shared<ClientWatch>(sock_);
    watch->arm();
    struct StopWatch {
      ~StopWatch() { w->stop(); }
      std::shared_ptr<ClientWatch> w;
    } stopWatch{watch};

    if (b.fail == ChatFail::kHangBeforeHeaders) {
      co_await watch->untilClosed();
      finish("chat_client_closed");
      co_return false;
    }

    if (b.gzipBomb > 0) co_return co_await gzipBomb(b, *watch, finish, keep);

    bool gzip = b.gzip && acceptsGzip(req);
    ChunkedBody out(sock_, gzip);
    if (!co_await out.header(http::status::ok, "text/plain; charset=utf-8", gzip, keep)) {
      finish("chat_client_closed");
      co_return false;
    }
    if (b.fail == ChatFail::kHangAfterHeaders) {
      co_await watch->untilClosed();
      finish("chat_client_closed");
      co_return false;
    }

    AnswerPlan plan = planAnswer(b, info);
    const auto interval = std::chrono::milliseconds(b.intervalMs);
    int written = 0;
    bool cutAfterEvents = b.fail == ChatFail::kDisconnect || b.fail == ChatFail::kHangAfterEvents;
    auto cut = [&]() -> net::awaitable<bool> {
      if (b.fail == ChatFail::kDisconnect) {
        error_code ec;
        sock_.shutdown(tcp::socket::shutdown_both, ec);
        sock_.close(ec);
        finish("chat_disconnected");
      } else {
        co_await watch->untilClosed();
        finish("chat_client_closed");
      }
      co_return false;
    };
    for (const Frame& f : plan.frames) {
      if (f.event) {
        if (cutAfterEvents && written == b.afterEvents) co_return co_await cut();
        if (!co_await watch->pause(interval)) {
          finish("chat_client_closed");
          co_return false;
        }
        ++written;
      }
      bool ok = co_await out.write(f.text);
      if (ok && f.fill > 0) ok = co_await out.fill(f.fill);
      if (!ok) {
        finish("chat_client_closed");
        co_return false;
      }
    }
    if (cutAfterEvents) co_return co_await cut();
    if (!co_await out.finish()) {
      finish("chat_client_closed");
      co_return false;
    }
    finish("chat_completed");
    co_return true;
  }

  template <typename Finish>
  net::awaitable<bool> gzipBomb(const ChatBehaviour& b, ClientWatch& watch, Finish& finish,
                                bool keep) {
    ChunkedBody out(sock_, false);
    bool ok = co_await out.header(http::status::ok, "text/plain; charset=utf-8", true, keep) &&
              co_await out.raw(bombHeader());
    const std::string& segment = bombSegment();
    for (std::uint64_t i = 0, n = bombSegments(b.gzipBomb); ok && i < n; ++i)
      ok = !watch.closed && co_await out.raw(segment);
    ok = ok && co_await out.raw(bombTrailer(b.gzipBomb)) && co_await out.finish();
    finish(ok ? "chat_completed" : "chat_client_closed");
    co_return ok;
  }

  // ---- OpenAI-compatible surface, for benchmarking other gateways against the same timing --

  net::awaitable<bool> models(bool keep) {
    co_return co_await writeJson(sock_, http::status::ok, modelList(), keep);
  }

  net::awaitable<bool> openAiChat(Request& req) {
    bool keep = req.keep_alive();
    error_code jec;
    json::value body = json::parse(req.body(), jec);
    if (jec || !body.is_object()) {
      co_return co_await writeJson(sock_, http::status::bad_request, openAiError("malformed JSON"),
                                   keep);
    }
    const auto& o = body.get_object();
    std::string model = "gpt-4o";
    if (auto it = o.find("model"); it != o.end() && it->value().is_string())
      model = it->value().get_string();
    bool stream = false;
    if (auto it = o.find("stream"); it != o.end() && it->value().is_bool())
      stream = it->value().get_bool();
    bool includeUsage = false;
    if (auto it = o.find("stream_options"); it != o.end() && it->value().is_object()) {
      auto u = it->value().get_object().find("include_usage");
      includeUsage = u != it->value().get_object().end() && u->value() == true;
    }
    std::size_t promptChars = 0;
    ChatRequestInfo info;
    if (auto it = o.find("messages"); it != o.end() && it->value().is_array()) {
      for (const auto& m : it->value().get_array()) {
        if (!m.is_object()) continue;
        auto c = m.get_object().find("content");
        if (c != m.get_object().end() && c->value().is_string()) {
          promptChars += c->value().get_string().size();
          info.chatInput = c->value().get_string();
        }
      }
    }
    json::object rec = openAiRecord(req, body);
    std::uint64_t id = registry_.record(std::move(rec));
    registry_.count("openai_requests");
    OpenStream open(registry_);

    ChatBehaviour b = registry_.defaultChat();
    std::vector<std::string> pieces = textPieces(b, info);
    const auto interval = std::chrono::milliseconds(b.intervalMs);
    json::object usage = openAiUsage(promptChars / 4 + 1, pieces.size());
    static std::atomic<std::uint64_t> serial{1};
    std::string cid = "chatcmpl-emu" + std::to_string(serial++);
    std::int64_t created = unixNow();

    auto watch = std::make_shared<ClientWatch>(sock_);
    watch->arm();
    struct StopWatch {
      ~StopWatch() { w->stop(); }
      std::shared_ptr<ClientWatch> w;
    } stopWatch{watch};

    if (!stream) {
      std::string content;
      for (const auto& p : pieces) content += p;
      if (!co_await watch->pause(interval * static_cast<int>(pieces.size()))) {
        registry_.finish(id, {}, "openai_client_closed");
        co_return false;
      }
      registry_.finish(id, {}, "openai_completed");
      co_return co_await writeJson(sock_, http::status::ok,
                                   openAiCompletion(cid, created, model, content, usage), keep);
    }

    ChunkedBody out(sock_, false);
    auto sse = [](const json::value& v) { return "data: " + json::serialize(v) + "\n\n"; };
    bool ok = co_await out.header(http::status::ok, "text/event-stream", false, keep);
    for (std::size_t i = 0; ok && i < pieces.size(); ++i) {
      ok = co_await watch->pause(interval) &&
           co_await out.write(
               sse(openAiChunk(cid, created, model, contentDelta(pieces[i], i == 0), nullptr)));
    }
    ok = ok && co_await out.write(sse(openAiChunk(cid, created, model, {}, "stop")));
    if (ok && includeUsage) {
      ok = co_await out.write(sse(usageChunk(cid, created, model, usage)));
    }
    ok = ok && co_await out.write("data: [DONE]\n\n") && co_await out.finish();
    registry_.finish(id, {}, ok ? "openai_completed" : "openai_client_closed");
    co_return ok;
  }

  // ---- control -----------------------------------------------------------------------------

  net::awaitable<bool> replaceScenario(Request& req) {
    bool keep = req.keep_alive();
    error_code jec;
    json::value v = json::parse(req.body(), jec);
    if (jec) {
      co_return co_await writeJson(sock_, http::status::bad_request,
                                   plainError("scenario: " + jec.message()), keep);
    }
    std::string problem;
    try {
      registry_.replaceScenario(parseScenario(v, options_.cliDefaults));
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (!problem.empty())
      co_return co_await writeJson(sock_, http::status::bad_request, plainError(problem), keep);
    co_return co_await writeJson(sock_, http::status::ok, okBody(), keep);
  }

  tcp::socket sock_;
  Registry& registry_;
  const ServerOptions& options_;
};

void logException(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "qodo-emulator: connection error: %s\n", x.what());
  }
}

net::awaitable<void> acceptLoop(tcp::acceptor& acceptor,
                                std::vector<std::unique_ptr<net::io_context>>& contexts,
                                Registry& registry, const ServerOptions& options) {
  std::size_t next = 0;
  net::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    net::any_io_executor ex = contexts[next++ % contexts.size()]->get_executor();
    auto [ec, sock] = co_await acceptor.async_accept(ex, kTuple);
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors under a load test: wait for some to be released.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    auto session = std::make_shared<Session>(std::move(sock), registry, options);
    net::co_spawn(
        ex, [session]() -> net::awaitable<void> { co_await session->run(); }, logException);
  }
}

}  // namespace

Server::Server(ServerOptions options, Registry& registry)
    : options_(std::move(options)), registry_(registry) {
  int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) contexts_.push_back(std::make_unique<net::io_context>(1));
}

Server::~Server() = default;

unsigned short Server::listen() {
  auto& ctx = *contexts_.front();
  tcp::endpoint ep(net::ip::make_address(options_.host), options_.port);
  acceptor_ = std::make_unique<tcp::acceptor>(ctx);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(net::socket_base::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(net::socket_base::max_listen_connections);
  net::co_spawn(ctx, acceptLoop(*acceptor_, contexts_, registry_, options_), logException);
  return acceptor_->local_endpoint().port();
}

void Server::run() {
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& c : contexts_) guards.push_back(net::make_work_guard(*c));
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i)
    threads.emplace_back([c = contexts_[i].get()] { c->run(); });
  contexts_.front()->run();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads) t.join();
}

void Server::stop() {
  for (auto& c : contexts_) c->stop();
}

}  // namespace emu
