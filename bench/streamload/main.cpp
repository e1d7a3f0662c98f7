// streamload: opens K concurrent streaming chat requests against an OpenAI-compatible URL, checks
// every chunk, every token and the closing [DONE], and prints one JSON object with completed and
// failed streams, time to first token and the longest gap between tokens (bench/README.md).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sse_check.h"

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using net::ip::tcp;
using streamload::Clock;

namespace {

struct Options {
  std::string url;
  std::string model = "gpt-4o";
  std::string body;  // empty: built from model and prompt
  size_t promptBytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t k = 1;
  size_t rounds = 1;
  long tokens = -1;  // expected content deltas; -1: do not check the text
  std::string text = "tok";
  double rampMs = 0;
  double timeoutS = 120;
  size_t threads = 1;
  bool sameBytes = false;
};

void usage() {
  std::cerr <<
      R"(usage: streamload --url http://127.0.0.1:PORT/v1/chat/completions [options]
  --model M          model of the default body (gpt-4o)
  --body JSON        request body as is (must ask for "stream":true); default: one user message
  --body-file F      the body from a file
  --prompt-bytes N   default body with a user message of about N bytes of English text
  --header 'K: V'    extra request header (repeatable)
  --k K              concurrent streams (1)
  --rounds R         requests one after another on each stream's connection (1)
  --tokens N         expected answer: N content pieces "<text>0 <text>1 ... <text>N-1"
  --text WORD        the emulator's word (tok)
  --ramp-ms MS       spread the K connection starts over MS milliseconds (0)
  --timeout-s S      give up on everything after S seconds; unfinished streams fail (120)
  --threads T        client event loops (1)
  --same-bytes       every answer's body must equal the first good one byte for byte, once the
                     values of "id" and "created" are blanked (one backend, one scripted answer)
)";
}

std::string englishText(size_t bytes) {
  static constexpr std::string_view kSentence =
      "The quick brown fox jumps over the lazy dog while the committee reviews the quarterly "
      "numbers and asks why the deployment took three hours instead of twenty minutes. ";
  std::string out;
  out.reserve(bytes + kSentence.size());
  while (out.size() < bytes) out += kSentence;
  out.resize(bytes);
  return out;
}

bool parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + a);
      return argv[++i];
    };
    if (a == "--url") o.url = value();
    else if (a == "--model") o.model = value();
    else if (a == "--body") o.body = value();
    else if (a == "--body-file") {
      std::ifstream in(value(), std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      o.body = s.str();
      if (o.body.empty()) throw std::runtime_error("--body-file: empty or unreadable");
    } else if (a == "--prompt-bytes") o.promptBytes = std::stoul(value());
    else if (a == "--header") {
      std::string h = value();
      auto colon = h.find(':');
      if (colon == std::string::npos) throw std::runtime_error("--header wants 'Name: value'");
      std::string v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      o.headers.emplace_back(h.substr(0, colon), v);
    } else if (a == "--k") o.k = std::stoul(value());
    else if (a == "--rounds") o.rounds = std::stoul(value());
    else if (a == "--tokens") o.tokens = std::stol(value());
    else if (a == "--text") o.text = value();
    else if (a == "--ramp-ms") o.rampMs = std::stod(value());
    else if (a == "--timeout-s") o.timeoutS = std::stod(value());
    else if (a == "--threads") o.threads = std::max<size_t>(1, std::stoul(value()));
    else if (a == "--same-bytes") o.sameBytes = true;
    else if (a == "-h" || a == "--help") return false;
    else throw std::runtime_error("unknown argument " + a);
  }
  if (o.url.empty()) throw std::runtime_error("--url is required");
  if (o.k == 0 || o.rounds == 0) throw std::runtime_error("--k and --rounds must be > 0");
  if (o.body.empty()) {
    json::object body;
    body["model"] = o.model;
    body["stream"] = true;
    json::array messages;
    messages.push_back(json::object{
        {"role", "user"}, {"content", o.promptBytes ? englishText(o.promptBytes) : "hi"}});
    body["messages"] = std::move(messages);
    o.body = json::serialize(body);
  }
  return true;
}

// Room for K client sockets plus a margin; root may raise the hard limit too.
void raiseDescriptorLimit(size_t k) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = static_cast<rlim_t>(k) + 1024;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
    rlimit raised{want, want};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  }
  if (rl.rlim_cur < want) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

struct Result {
  bool ok = false;
  std::string error;
  double ttftMs = -1;
  double gapMs = -1;
  size_t tokens = 0;
};

struct Shared {
  Options options;
  tcp::endpoint endpoint;
  std::string host;
  std::string target;
  std::optional<std::string> expected;
  Clock::time_point start;
  std::mutex mutex;
  std::vector<Result> results;
  std::atomic<long> open{0};
  std::atomic<long> peakOpen{0};
  std::atomic<size_t> finished{0};
  size_t total = 0;
  std::optional<std::string> reference;  // --same-bytes: the first good body, blanked
};

// The body with every `"id":"…"` value emptied and every `"created":N` set to 0: what differs
// between two answers that are otherwise the same bytes.
std::string blankVarying(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  size_t i = 0;
  while (i < body.size()) {
    if (body.substr(i).starts_with("\"id\":\"")) {
      out += "\"id\":\"";
      i += 6;
      while (i < body.size() && body[i] != '"') i += body[i] == '\\' ? 2 : 1;
      continue;
    }
    if (body.substr(i).starts_with("\"created\":")) {
      out += "\"created\":0";
      i += 10;
      while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i;
      continue;
    }
    out += body[i++];
  }
  return out;
}

// --same-bytes: the first good body becomes the reference; every later one must equal it.
bool sameAsReference(Shared& s, std::string_view body) {
  std::string blanked = blankVarying(body);
  std::lock_guard lock(s.mutex);
  if (!s.reference) {
    s.reference = std::move(blanked);
    return true;
  }
  return blanked == *s.reference;
}

void record(Shared& s, Result r) {
  std::lock_guard lock(s.mutex);
  s.results.push_back(std::move(r));
}

struct OpenCount {
  explicit OpenCount(Shared& s) : s(s) {
    const long now = ++s.open;
    long peak = s.peakOpen.load();
    while (now > peak && !s.peakOpen.compare_exchange_weak(peak, now)) {
    }
  }
  ~OpenCount() { --s.open; }
  Shared& s;
};

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

net::awaitable<void> oneStream(Shared& s, size_t index) {
  auto ex = co_await net::this_coro::executor;
  if (s.options.rampMs > 0 && s.options.k > 1) {
    net::steady_timer wait(ex);
    wait.expires_at(s.start + std::chrono::microseconds(static_cast<long>(
                                  s.options.rampMs * 1000.0 * index / s.options.k)));
    co_await wait.async_wait(net::as_tuple(net::use_awaitable));
  }
  tcp::socket socket(ex);
  auto [cec] = co_await socket.async_connect(s.endpoint, net::as_tuple(net::use_awaitable));
  size_t round = 0;
  auto failRest = [&](const std::string& why) {
    for (; round < s.options.rounds; ++round) {
      Result r;
      r.error = why;
      record(s, std::move(r));
      ++s.finished;
    }
  };
  if (cec) {
    failRest("connect: " + cec.message());
    co_return;
  }
  socket.set_option(tcp::no_delay(true));
  boost::beast::flat_buffer buffer;
  std::array<char, 4096> chunk;
  for (; round < s.options.rounds; ++round) {
    http::request<http::string_body> req{http::verb::post, s.target, 11};
    req.set(http::field::host, s.host);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "text/event-stream");
    for (const auto& [name, value] : s.options.headers) req.set(name, value);
    req.keep_alive(true);
    req.body() = s.options.body;
    req.prepare_payload();

    OpenCount open(s);
    const auto sent = Clock::now();
    auto [wec, wn] = co_await http::async_write(socket, req, net::as_tuple(net::use_awaitable));
    if (wec) {
      failRest("write: " + wec.message());
      co_return;
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    auto [hec, hn] =
        co_await http::async_read_header(socket, buffer, parser, net::as_tuple(net::use_awaitable));
    if (hec) {
      failRest("read header: " + hec.message());
      co_return;
    }
    if (parser.get().result_int() != 200) {
      failRest("status " + std::to_string(parser.get().result_int()));
      co_return;
    }
    streamload::SseCheck check(s.expected);
    bool good = true;
    std::string body;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      auto [rec, rn] =
          co_await http::async_read_some(socket, buffer, parser, net::as_tuple(net::use_awaitable));
      if (rec == http::error::need_buffer) rec = {};
      const size_t got = chunk.size() - parser.get().body().size;
      if (got > 0 && good) good = check.feed({chunk.data(), got}, Clock::now());
      if (s.options.sameBytes) body.append(chunk.data(), got);
      if (rec) {
        failRest("read body: " + rec.message());
        co_return;
      }
    }
    Result r;
    r.ok = check.finish() && good;
    r.error = check.error();
    if (r.ok && s.options.sameBytes && !sameAsReference(s, body)) {
      r.ok = false;
      r.error = "body differs from the first good answer";
    }
    r.tokens = check.tokens();
    if (auto first = check.firstToken()) r.ttftMs = ms(*first - sent);
    if (r.tokens > 1) r.gapMs = ms(check.longestGap());
    record(s, std::move(r));
    ++s.finished;
    if (!parser.keep_alive()) {
      ++round;
      if (round < s.options.rounds) failRest("server closed the connection");
      co_return;
    }
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

json::object summary(std::vector<double> v) {
  json::object o;
  auto round3 = [](double x) { return x < 0 ? x : std::round(x * 1000.0) / 1000.0; };
  o["p50"] = round3(percentile(v, 0.50));
  o["p99"] = round3(percentile(v, 0.99));
  o["max"] = v.empty() ? -1.0 : round3(*std::max_element(v.begin(), v.end()));
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto shared = std::make_unique<Shared>();
  Shared& s = *shared;
  try {
    if (!parseArgs(argc, argv, s.options)) {
      usage();
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "streamload: " << e.what() << "\n";
    usage();
    return 2;
  }
  const Options& o = s.options;
  auto url = boost::urls::parse_uri(o.url);
  if (!url || url->scheme() != "http") {
    std::cerr << "streamload: --url must be http://host:port/path\n";
    return 2;
  }
  s.host = std::string(url->host()) + (url->has_port() ? ":" + std::string(url->port()) : "");
  s.target = std::string(url->encoded_path());
  if (s.target.empty()) s.target = "/";
  if (url->has_query()) s.target += "?" + std::string(url->encoded_query());
  try {
    net::io_context resolveIo;
    tcp::resolver resolver(resolveIo);
    auto found = resolver.resolve(std::string(url->host()),
                                  url->has_port() ? std::string(url->port()) : "80");
    s.endpoint = *found.begin();
  } catch (const std::exception& e) {
    std::cerr << "streamload: resolve: " << e.what() << "\n";
    return 2;
  }
  if (o.tokens >= 0) {
    std::string text;
    for (long i = 0; i < o.tokens; ++i) {
      text += o.text + std::to_string(i);
      if (i + 1 < o.tokens) text += ' ';
    }
    s.expected = text;
  }
  raiseDescriptorLimit(o.k);
  s.total = o.k * o.rounds;
  s.results.reserve(s.total);

  std::vector<std::unique_ptr<net::io_context>> loops;
  for (size_t t = 0; t < o.threads; ++t) loops.push_back(std::make_unique<net::io_context>(1));
  s.start = Clock::now();
  for (size_t i = 0; i < o.k; ++i) {
    net::co_spawn(*loops[i % loops.size()], oneStream(s, i), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::cerr << "streamload: " << x.what() << "\n";
      }
    });
  }
  const auto deadline = s.start + std::chrono::microseconds(static_cast<long>(o.timeoutS * 1e6));
  std::vector<std::thread> threads;
  for (auto& loop : loops) {
    threads.emplace_back([&loop, deadline] { loop->run_until(deadline); });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - s.start).count();

  std::vector<Result> results;
  {
    std::lock_guard lock(s.mutex);
    results = s.results;
  }
  size_t completed = 0;
  size_t failed = 0;
  size_t tokens = 0;
  std::map<std::string, size_t> reasons;
  std::vector<double> ttft;
  std::vector<double> gaps;
  for (const Result& r : results) {
    tokens += r.tokens;
    if (r.ok) {
      ++completed;
      if (r.ttftMs >= 0) ttft.push_back(r.ttftMs);
      if (r.gapMs >= 0) gaps.push_back(r.gapMs);
    } else {
      ++failed;
      ++reasons[r.error.empty() ? "unknown" : r.error];
    }
  }
  if (results.size() < s.total) {
    const size_t missing = s.total - results.size();
    failed += missing;
    reasons["timeout after " + std::to_string(o.timeoutS) + " s"] += missing;
  }
  json::object out;
  out["url"] = o.url;
  out["k"] = o.k;
  out["rounds"] = o.rounds;
  out["requests"] = s.total;
  out["completed"] = completed;
  out["failed"] = failed;
  json::object why;
  for (const auto& [reason, count] : reasons) why[reason] = count;
  out["failures"] = std::move(why);
  out["tokens"] = tokens;
  out["ttft_ms"] = summary(ttft);
  out["max_gap_ms"] = summary(gaps);
  out["peak_open"] = s.peakOpen.load();
  out["elapsed_s"] = std::round(elapsed * 1000.0) / 1000.0;
  std::cout << json::serialize(out) << std::endl;
  // Sockets and coroutines still parked on the loops are dropped with the process.
  std::fflush(stdout);
  std::_Exit(failed == 0 ? 0 : 1);
}
