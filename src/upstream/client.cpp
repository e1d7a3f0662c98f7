// The Client: one libcurl multi handle driven by one io_context. curl says which sockets to
// watch and when to wake it (socket and timer callbacks); Asio waits for exactly that and hands
// the readiness back through curl_multi_socket_action; finished transfers come out of
// curl_multi_info_read. The first-byte and idle timeouts are per-transfer Asio timers, because
// curl's own CURLOPT_TIMEOUT would also cap a long, healthy stream.
//
// Re-entrancy: curl forbids multi calls (add, remove, socket_action) from inside its callbacks,
// and the user's onStatus/onData run inside them. `depth_` counts the curl calls on the stack;
// while it is non-zero, what would need such a call (start, cancel, destruction) is posted.
#include "upstream/client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "upstream/curl_error.h"
#include "upstream/curl_handles.h"

namespace upstream {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

class Engine;

enum class Phase {
  kConnecting,         // curl's connect timeout applies
  kAwaitingFirstByte,  // request handed to the connection; firstByteTimeout applies
  kStreaming,          // response started; idleTimeout applies between bytes
};

struct Transfer : std::enable_shared_from_this<Transfer> {
  Transfer(Engine& engine, asio::io_context& io) : owner(&engine), deadline(io) {}

  Engine* owner;  // outlives the transfer: the Engine's map holds the only strong reference
  EasyHandle easy;
  HeaderList headers;
  std::shared_ptr<const std::string> body;  // CURLOPT_POSTFIELDS points into it
  Handlers handlers;
  asio::steady_timer deadline;
  uint64_t deadlineGeneration = 0;  // a wait armed before the latest re-arm is stale
  Phase phase = Phase::kConnecting;
  Clock::time_point lastActivity;
  uint64_t bodyBytes = 0;
  // Bytes onData has already seen that curl will hand to the write callback again: when the
  // callback returns CURL_WRITEFUNC_PAUSE, curl keeps that call's bytes and re-delivers them.
  size_t redelivered = 0;
  int status = 0;
  bool statusReported = false;
  bool attached = false;  // in the multi handle
  bool cancelled = false;
  bool finished = false;
  bool paused = false;
  bool resumePosted = false;
  ErrorKind abort = ErrorKind::kNone;  // why our callbacks told curl to stop
  char errorBuffer[CURL_ERROR_SIZE] = {};
};

// One socket curl asked us to watch. A connection socket comes from our open hook and its close
// goes through our close hook, so Asio watches curl's own descriptor and lets go of it (release,
// never close) before curl closes it: one descriptor per backend connection, which is what lets
// 10,000 held streams fit in 20,000 descriptors. Any other socket (the threaded resolver's
// wake-up pair, closed by curl without telling us) is watched through a dup, so curl closing its
// number can never leave Asio holding a registration for a reused one.
struct Watcher {
  Watcher(asio::io_context& io, curl_socket_t socket, bool borrowed)
      : fd(socket), descriptor(io), borrowed(borrowed) {}
  void close() {
    open = false;
    if (borrowed) {
      descriptor.release();  // deregisters and cancels the waits; curl still owns the socket
      return;
    }
    boost::system::error_code ignored;
    descriptor.close(ignored);
  }

  curl_socket_t fd;  // curl's number, for curl_multi_socket_action
  asio::posix::stream_descriptor descriptor;
  bool borrowed;  // descriptor is curl's own socket, not a dup
  int wanted = CURL_POLL_NONE;
  bool readWaiting = false;
  bool writeWaiting = false;
  bool open = true;
};

class Engine {
 public:
  Engine(asio::io_context& io, Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start(const std::shared_ptr<Transfer>& transfer, Request request, Handlers handlers);
  void cancel(Transfer& transfer);
  void resume(Transfer& transfer);
  bool insideCurl() const { return depth_ > 0; }
  // The Client is being destroyed from inside a callback: silence every transfer now, the
  // handles are released once the stack has unwound.
  void abandon();

  // libcurl callbacks.
  int onSocket(curl_socket_t socket, int what);
  void onTimer(long timeoutMs);
  curl_socket_t onOpenSocket(const curl_sockaddr& address);
  void onSocketClosed(curl_socket_t socket);
  void onRequestReady(Transfer& transfer);
  size_t onHeader(Transfer& transfer, std::string_view line);
  size_t onBody(Transfer& transfer, const char* data, size_t size);

 private:
  bool configure(Transfer& transfer, Request& request);
  void attach(const std::shared_ptr<Transfer>& transfer);
  void detach(Transfer& transfer);
  void finish(const std::shared_ptr<Transfer>& transfer, const Result& result);
  void postFailure(Transfer& transfer, std::string message);
  void unpause(const std::shared_ptr<Transfer>& transfer);
  void reportStatus(Transfer& transfer, long code);
  Result resultOf(Transfer& transfer, CURLcode code);
  void armDeadline(Transfer& transfer, Clock::time_point at);
  void onDeadline(const std::shared_ptr<Transfer>& transfer);
  void watch(const std::shared_ptr<Watcher>& watcher);
  void onReady(const std::shared_ptr<Watcher>& watcher, int direction);
  void socketAction(curl_socket_t socket, int events);
  void processMessages();
  void sizeConnectionCache();

  asio::io_context& io_;
  Options options_;
  ShareHandle share_;
  MultiHandle multi_;
  asio::steady_timer timer_;
  uint64_t timerGeneration_ = 0;  // a posted zero timeout runs only if no newer one replaced it
  std::unordered_map<curl_socket_t, std::shared_ptr<Watcher>> watchers_;
  std::unordered_set<curl_socket_t> opened_;  // connection sockets made by onOpenSocket
  std::unordered_map<CURL*, std::shared_ptr<Transfer>> transfers_;
  // Easy handles of finished transfers, reset and kept for the next ones: creating one costs
  // an allocation of curl's state and of a 16 KB receive buffer (then shrunk to ours), about
  // 3 % of a non-streaming request's CPU in malloc and free under load. Emptied before share_.
  std::vector<EasyHandle> spareEasy_;
  int depth_ = 0;
  // Handlers already queued on io_ when the Engine goes away check this before touching it.
  std::shared_ptr<char> life_ = std::make_shared<char>();
};

// --- libcurl trampolines ---------------------------------------------------------------------

int socketCallback(CURL*, curl_socket_t socket, int what, void* engine, void*) {
  return static_cast<Engine*>(engine)->onSocket(socket, what);
}

int timerCallback(CURLM*, long timeoutMs, void* engine) {
  static_cast<Engine*>(engine)->onTimer(timeoutMs);
  return 0;
}

curl_socket_t openSocketCallback(void* engine, curlsocktype purpose, curl_sockaddr* address) {
  if (purpose != CURLSOCKTYPE_IPCXN) {
    return CURL_SOCKET_BAD;
  }
  return static_cast<Engine*>(engine)->onOpenSocket(*address);
}

int closeSocketCallback(void* engine, curl_socket_t socket) {
  static_cast<Engine*>(engine)->onSocketClosed(socket);
  return ::close(socket);
}

int prereqCallback(void* transfer, char*, char*, int, int) {
  auto* t = static_cast<Transfer*>(transfer);
  t->owner->onRequestReady(*t);
  return CURL_PREREQFUNC_OK;
}

size_t headerCallback(char* data, size_t size, size_t count, void* transfer) {
  auto* t = static_cast<Transfer*>(transfer);
  return t->owner->onHeader(*t, std::string_view(data, size * count));
}

size_t writeCallback(char* data, size_t size, size_t count, void* transfer) {
  auto* t = static_cast<Transfer*>(transfer);
  return t->owner->onBody(*t, data, size * count);
}

bool startsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

constexpr long kIdleConnections = 256;  // per worker, at least
// Reset easy handles kept for reuse, per worker (each ~8 KB: curl's state and our 2 KB buffer).
constexpr size_t kSpareEasyHandles = 64;

// --- Engine ----------------------------------------------------------------------------------

Engine::Engine(asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)), timer_(io) {
  ensureCurlInitialized();
  // TLS sessions live per easy handle unless shared; sharing them lets a new connection to the
  // same host resume its TLS session. Everything runs on one thread, so no lock callbacks.
  share_.reset(curl_share_init());
  if (share_) {
    curl_share_setopt(share_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  multi_.reset(curl_multi_init());
  if (!multi_) {
    throw std::runtime_error("libcurl could not create a multi handle");
  }
  CURLM* multi = multi_.get();
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socketCallback);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timerCallback);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, long{CURLPIPE_MULTIPLEX});
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);  // unlimited
  sizeConnectionCache();
}

Engine::~Engine() {
  for (auto& [easy, transfer] : transfers_) {
    transfer->cancelled = true;
    transfer->deadline.cancel();
    if (transfer->attached) {
      transfer->attached = false;
      curl_multi_remove_handle(multi_.get(), easy);  // closes an unfinished connection
    }
    transfer->easy.reset();  // before the share handle, which refuses to go while in use
  }
  transfers_.clear();
  spareEasy_.clear();
  multi_.reset();
  for (auto& [socket, watcher] : watchers_) {
    watcher->close();
  }
  watchers_.clear();
  timer_.cancel();
}

// How many connections curl's cache may hold. curl's default, 4 x the transfers in the multi
// handle at that moment, shrinks whenever few are running and closes connections that the next
// burst must open again (~10% of non-streaming requests paid a new TCP connection); a fixed
// size below the number of open streams makes curl scan every connection for the oldest idle
// one each time a transfer ends (O(n) each, with 5,000 held streams). So: curl's rule, with a
// floor.
void Engine::sizeConnectionCache() {
  curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS,
                    std::max(kIdleConnections, 4 * static_cast<long>(transfers_.size())));
}

void Engine::abandon() {
  for (auto& [easy, transfer] : transfers_) {
    transfer->cancelled = true;
    transfer->deadline.cancel();
  }
}

bool Engine::configure(Transfer& t, Request& request) {
  if (!spareEasy_.empty()) {
    t.easy = std::move(spareEasy_.back());
    spareEasy_.pop_back();
  } else {
    t.easy.reset(curl_easy_init());
  }
  CURL* easy = t.easy.get();
  if (easy == nullptr) {
    return false;
  }
  t.body = std::move(request.body);

  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t.errorBuffer);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  if (share_) {
    curl_easy_setopt(easy, CURLOPT_SHARE, share_.get());
  }
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, long{CURL_HTTP_VERSION_2TLS});
  if (startsWithIgnoringCase(request.url, "https://")) {
    // Wait for an HTTP/2 connection being set up rather than opening a parallel one.
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  }
  // An empty string also keeps curl from reading http_proxy & co. from the environment.
  curl_easy_setopt(easy, CURLOPT_PROXY, options_.proxyUrl.c_str());
  curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connectTimeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, options_.receiveBufferBytes);
  if (request.acceptCompressed) {
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  }

  const std::string& method = request.method;
  if (method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    if (method != "POST") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (method == "POST" || t.body) {
      const std::string_view body = t.body ? std::string_view(*t.body) : std::string_view("", 0);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }

  bool hasExpect = false;
  for (const std::string& header : request.headers) {
    hasExpect = hasExpect || startsWithIgnoringCase(header, "expect:");
    if (!appendHeader(t.headers, header.c_str())) {
      return false;
    }
  }
  // curl would otherwise ask large POSTs to wait for "100 Continue", a round trip for nothing.
  if (!hasExpect && !appendHeader(t.headers, "Expect:")) {
    return false;
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t.headers.get());

  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, headerCallback);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, writeCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, prereqCallback);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, &t);
  // Connections outlive the transfer that opened them, so the socket hooks talk to the Engine.
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, openSocketCallback);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, closeSocketCallback);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  return true;
}

void Engine::start(const std::shared_ptr<Transfer>& t, Request request, Handlers handlers) {
  t->handlers = std::move(handlers);
  if (!configure(*t, request)) {
    t->easy.reset();
    postFailure(*t, "could not set up the transfer (out of memory)");
    return;
  }
  transfers_.emplace(t->easy.get(), t);
  sizeConnectionCache();
  if (depth_ > 0) {
    asio::post(io_, [weak = t->weak_from_this()] {
      if (auto t = weak.lock(); t && !t->cancelled && !t->finished) {
        t->owner->attach(t);
      }
    });
    return;
  }
  attach(t);
}

void Engine::attach(const std::shared_ptr<Transfer>& t) {
  CURLMcode code = curl_multi_add_handle(multi_.get(), t->easy.get());
  if (code != CURLM_OK) {
    postFailure(*t, curl_multi_strerror(code));
    return;
  }
  t->attached = true;
}

void Engine::postFailure(Transfer& t, std::string message) {
  // Reported from the loop, so that onDone never runs before start() has returned.
  asio::post(io_, [weak = t.weak_from_this(), message = std::move(message)] {
    auto t = weak.lock();
    if (!t || t->cancelled || t->finished) {
      return;
    }
    if (t->easy) {
      t->owner->finish(t, Result{ErrorKind::kOther, 0, message});
      return;
    }
    // Never configured, so never in the Engine's map: nothing to detach.
    t->finished = true;
    auto onDone = std::move(t->handlers.onDone);
    t->handlers = Handlers{};
    if (onDone) {
      onDone(Result{ErrorKind::kOther, 0, message});
    }
  });
}

void Engine::detach(Transfer& t) {
  t.deadline.cancel();
  ++t.deadlineGeneration;
  CURL* easy = t.easy.get();
  if (easy == nullptr) {
    return;
  }
  if (t.attached) {
    t.attached = false;
    curl_multi_remove_handle(multi_.get(), easy);  // closes an unfinished connection
  }
  if (spareEasy_.size() < kSpareEasyHandles) {
    // Every option back to its default; the handle keeps no connection (they belong to the
    // multi handle's cache) and nothing of this request's headers or body.
    curl_easy_reset(easy);
    spareEasy_.push_back(std::move(t.easy));
  } else {
    t.easy.reset();
  }
  transfers_.erase(easy);  // may release the transfer: callers hold their own reference
  sizeConnectionCache();
}

void Engine::finish(const std::shared_ptr<Transfer>& t, const Result& result) {
  detach(*t);
  t->finished = true;
  auto onDone = std::move(t->handlers.onDone);
  t->handlers = Handlers{};  // releases what the handlers captured as soon as possible
  if (onDone) {
    onDone(result);
  }
}

void Engine::cancel(Transfer& t) {
  if (t.cancelled || t.finished) {
    return;
  }
  t.cancelled = true;
  t.deadline.cancel();
  ++t.deadlineGeneration;
  if (depth_ == 0) {
    detach(t);
    return;
  }
  // Inside a curl callback: our write and header callbacks now fail the transfer, and the
  // removal happens as soon as the stack has unwound, whichever comes first.
  asio::post(io_, [weak = t.weak_from_this()] {
    if (auto t = weak.lock()) {
      t->owner->detach(*t);
    }
  });
}

void Engine::resume(Transfer& t) {
  if (!t.paused || t.resumePosted || t.cancelled || t.finished) {
    return;
  }
  // Posted: unpausing re-delivers data through onData, which the caller of resume() should not
  // find running inside its own call.
  t.resumePosted = true;
  asio::post(io_, [weak = t.weak_from_this()] {
    if (auto t = weak.lock()) {
      t->owner->unpause(t);
    }
  });
}

void Engine::unpause(const std::shared_ptr<Transfer>& t) {
  t->resumePosted = false;
  if (!t->paused || t->cancelled || t->finished || !t->attached) {
    return;
  }
  t->paused = false;
  t->lastActivity = Clock::now();
  armDeadline(*t, t->lastActivity + options_.idleTimeout);
  std::weak_ptr<char> life = life_;
  ++depth_;
  CURLcode code = curl_easy_pause(t->easy.get(), CURLPAUSE_CONT);
  --depth_;
  if (life.expired()) {
    return;
  }
  // curl_easy_pause reports a failed re-delivery only to us, not to the multi handle.
  if (t->attached && (code != CURLE_OK || t->cancelled || t->abort != ErrorKind::kNone)) {
    if (t->cancelled) {
      detach(*t);
    } else {
      finish(t, resultOf(*t, code));
      if (life.expired()) {
        return;
      }
    }
  }
  processMessages();
}

void Engine::reportStatus(Transfer& t, long code) {
  t.statusReported = true;
  t.status = static_cast<int>(code);
  // With the answer started and the request body sent, curl will not send it again (no
  // redirects, no auth rounds): a held stream need not keep its share of it.
  curl_off_t sent = 0;
  if (t.body && curl_easy_getinfo(t.easy.get(), CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK &&
      sent >= static_cast<curl_off_t>(t.body->size())) {
    t.body.reset();
  }
  if (t.handlers.onStatus) {
    t.handlers.onStatus(t.status);
  }
}

Result Engine::resultOf(Transfer& t, CURLcode code) {
  Result result;
  result.status = t.statusReported ? t.status : 0;
  if (t.abort != ErrorKind::kNone) {
    result.error = t.abort;
    result.message = std::string(describe(t.abort));
    return result;
  }
  if (code == CURLE_OK) {
    return result;
  }
  FailureContext context;
  context.viaProxy = !options_.proxyUrl.empty();
  context.responseStarted = t.phase == Phase::kStreaming;
  if (t.easy) {
    curl_easy_getinfo(t.easy.get(), CURLINFO_HTTP_CONNECTCODE, &context.proxyConnectStatus);
  }
  result.error = classifyCurlError(code, context);
  // curl's messages name hosts and ports, never header values: no secrets.
  result.message =
      t.errorBuffer[0] != '\0' ? std::string(t.errorBuffer) : std::string(curl_easy_strerror(code));
  return result;
}

// --- timeouts --------------------------------------------------------------------------------

void Engine::armDeadline(Transfer& t, Clock::time_point at) {
  uint64_t generation = ++t.deadlineGeneration;
  t.deadline.expires_at(at);
  t.deadline.async_wait([weak = t.weak_from_this(), generation](boost::system::error_code ec) {
    if (ec) {
      return;
    }
    auto t = weak.lock();
    if (!t || t->cancelled || t->finished || t->deadlineGeneration != generation) {
      return;
    }
    t->owner->onDeadline(t);
  });
}

void Engine::onDeadline(const std::shared_ptr<Transfer>& t) {
  if (t->phase == Phase::kAwaitingFirstByte) {
    finish(t, Result{ErrorKind::kFirstByteTimeout, 0,
                     std::string(describe(ErrorKind::kFirstByteTimeout))});
    return;
  }
  if (t->phase != Phase::kStreaming || t->paused) {
    return;  // unpause re-arms
  }
  // Body bytes only move lastActivity; the timer catches up lazily instead of being re-armed
  // for every chunk.
  Clock::time_point due = t->lastActivity + options_.idleTimeout;
  if (Clock::now() < due) {
    armDeadline(*t, due);
    return;
  }
  finish(t, Result{ErrorKind::kIdleTimeout, t->statusReported ? t->status : 0,
                   std::string(describe(ErrorKind::kIdleTimeout))});
}

// --- transfer callbacks ----------------------------------------------------------------------

void Engine::onRequestReady(Transfer& t) {
  // Called once the connection (and any proxy tunnel) is ready, just before the request goes
  // out; curl calls it again if it has to retry on a fresh connection.
  t.phase = Phase::kAwaitingFirstByte;
  armDeadline(t, Clock::now() + options_.firstByteTimeout);
}

size_t Engine::onHeader(Transfer& t, std::string_view line) {
  if (t.cancelled || t.abort != ErrorKind::kNone) {
    return 0;
  }
  if (t.phase != Phase::kStreaming) {
    t.phase = Phase::kStreaming;
    t.lastActivity = Clock::now();
    armDeadline(t, t.lastActivity + options_.idleTimeout);
  }
  if (t.handlers.onHeader && !t.statusReported) {
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                                value.back() == ' '))
        value.remove_suffix(1);
      t.handlers.onHeader(line.substr(0, colon), value);
    }
  }
  if ((line == "\r\n" || line == "\n") && !t.statusReported) {
    long code = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200) {
      reportStatus(t, code);  // 1xx blocks are followed by the real one
    }
  }
  return t.cancelled ? 0 : line.size();
}

size_t Engine::onBody(Transfer& t, const char* data, size_t size) {
  if (t.cancelled || t.abort != ErrorKind::kNone) {
    return CURL_WRITEFUNC_ERROR;
  }
  if (t.paused) {
    return CURL_WRITEFUNC_PAUSE;  // curl keeps these bytes for after resume
  }
  size_t seen = std::min(t.redelivered, size);
  t.redelivered -= seen;
  if (seen == size) {
    return size;
  }
  std::string_view fresh(data + seen, size - seen);
  if (fresh.size() > options_.maxBodyBytes - std::min(t.bodyBytes, options_.maxBodyBytes)) {
    t.abort = ErrorKind::kTooLarge;
    return CURL_WRITEFUNC_ERROR;
  }
  t.bodyBytes += fresh.size();
  t.lastActivity = Clock::now();
  if (!t.statusReported) {
    long code = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &code);
    reportStatus(t, code);
    if (t.cancelled) {
      return CURL_WRITEFUNC_ERROR;
    }
  }
  Flow flow = t.handlers.onData ? t.handlers.onData(fresh) : Flow::kContinue;
  if (t.cancelled) {
    return CURL_WRITEFUNC_ERROR;
  }
  if (flow == Flow::kPause) {
    t.paused = true;
    t.redelivered = size;  // the whole call comes back, including any prefix skipped above
    return CURL_WRITEFUNC_PAUSE;
  }
  return size;
}

// --- sockets and curl's timer ----------------------------------------------------------------

int Engine::onSocket(curl_socket_t socket, int what) {
  auto found = watchers_.find(socket);
  if (what == CURL_POLL_REMOVE) {
    if (found == watchers_.end()) {
      return 0;
    }
    if (found->second->borrowed) {
      // An idle connection back in curl's cache: stay registered with the reactor until its
      // close hook runs, so reusing it costs no epoll_ctl (two per request otherwise).
      found->second->wanted = CURL_POLL_NONE;
      return 0;
    }
    found->second->close();
    watchers_.erase(found);
    return 0;
  }
  if (found == watchers_.end()) {
    const bool borrowed = opened_.count(socket) != 0;
    int descriptor = borrowed ? socket : ::dup(socket);
    if (descriptor < 0) {
      return -1;
    }
    auto watcher = std::make_shared<Watcher>(io_, socket, borrowed);
    boost::system::error_code ec;
    watcher->descriptor.assign(descriptor, ec);
    if (ec) {
      if (!borrowed) {
        ::close(descriptor);
      }
      return -1;
    }
    found = watchers_.emplace(socket, std::move(watcher)).first;
  }
  found->second->wanted = what;
  watch(found->second);
  return 0;
}

curl_socket_t Engine::onOpenSocket(const curl_sockaddr& address) {
  const curl_socket_t socket =
      ::socket(address.family, address.socktype | SOCK_CLOEXEC, address.protocol);
  if (socket != CURL_SOCKET_BAD) {
    opened_.insert(socket);
  }
  return socket;
}

void Engine::onSocketClosed(curl_socket_t socket) {
  // curl normally says CURL_POLL_REMOVE first; this makes sure Asio lets go of the descriptor
  // before curl closes it, and that a reused number can never meet a stale watcher.
  opened_.erase(socket);
  auto found = watchers_.find(socket);
  if (found == watchers_.end()) {
    return;
  }
  found->second->close();
  watchers_.erase(found);
}

void Engine::watch(const std::shared_ptr<Watcher>& watcher) {
  // An async_wait re-arms the epoll registration, so readiness that curl left undrained is
  // reported again: level-triggered behaviour, which is what curl expects.
  if ((watcher->wanted & CURL_POLL_IN) && !watcher->readWaiting) {
    watcher->readWaiting = true;
    watcher->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                   [this, watcher](boost::system::error_code ec) {
                                     watcher->readWaiting = false;
                                     if (!watcher->open || ec == asio::error::operation_aborted) {
                                       return;
                                     }
                                     onReady(watcher, ec ? CURL_CSELECT_ERR : CURL_CSELECT_IN);
                                   });
  }
  if ((watcher->wanted & CURL_POLL_OUT) && !watcher->writeWaiting) {
    watcher->writeWaiting = true;
    watcher->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                   [this, watcher](boost::system::error_code ec) {
                                     watcher->writeWaiting = false;
                                     if (!watcher->open || ec == asio::error::operation_aborted) {
                                       return;
                                     }
                                     onReady(watcher, ec ? CURL_CSELECT_ERR : CURL_CSELECT_OUT);
                                   });
  }
}

void Engine::onReady(const std::shared_ptr<Watcher>& watcher, int direction) {
  // A wait armed before curl changed its mind about this socket: nothing to tell curl.
  int wantedBit = direction == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
  if (direction != CURL_CSELECT_ERR && (watcher->wanted & wantedBit) == 0) {
    return;
  }
  socketAction(watcher->fd, direction);
  // The Engine may be gone now (a handler destroyed the Client); it closed every watcher.
  if (watcher->open && direction != CURL_CSELECT_ERR) {
    watch(watcher);
  }
}

void Engine::onTimer(long timeoutMs) {
  const uint64_t generation = ++timerGeneration_;
  if (timeoutMs < 0) {
    timer_.cancel();
    return;
  }
  // Never socket_action from here: curl is on the stack. Zero means "as soon as possible", and
  // curl asks for it on every curl_multi_add_handle: a post, not a timer, because re-arming the
  // steady_timer reprograms the reactor's timerfd (a syscall that cost ~10% of a non-streaming
  // request's CPU in the benchmark profile, bench/results/).
  if (timeoutMs == 0) {
    timer_.cancel();
    asio::post(io_, [this, generation, life = std::weak_ptr<char>(life_)] {
      if (life.expired() || generation != timerGeneration_) {
        return;
      }
      socketAction(CURL_SOCKET_TIMEOUT, 0);
    });
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(timeoutMs));
  timer_.async_wait([this, life = std::weak_ptr<char>(life_)](boost::system::error_code ec) {
    if (ec || life.expired()) {
      return;
    }
    socketAction(CURL_SOCKET_TIMEOUT, 0);
  });
}

void Engine::socketAction(curl_socket_t socket, int events) {
  int running = 0;
  ++depth_;
  curl_multi_socket_action(multi_.get(), socket, events, &running);
  --depth_;
  processMessages();
}

void Engine::processMessages() {
  if (depth_ > 0) {
    return;
  }
  std::weak_ptr<char> life = life_;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    auto found = transfers_.find(message->easy_handle);
    if (found == transfers_.end()) {
      continue;
    }
    std::shared_ptr<Transfer> t = found->second;
    CURLcode code = message->data.result;
    if (t->cancelled) {
      detach(*t);
      continue;
    }
    if (code == CURLE_OK && !t->statusReported) {
      // A body-less answer whose end of headers we did not see as a blank line (HTTP/2).
      long status = 0;
      curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &status);
      reportStatus(*t, status);
      if (life.expired()) {
        return;
      }
      if (t->cancelled) {
        detach(*t);
        continue;
      }
    }
    finish(t, resultOf(*t, code));
    if (life.expired()) {
      return;
    }
  }
}

}  // namespace

// --- public surface --------------------------------------------------------------------------

struct TransferHandle::State : Transfer {
  using Transfer::Transfer;
};

void TransferHandle::cancel() {
  if (auto state = state_.lock()) {
    state->owner->cancel(*state);
  }
}

void TransferHandle::resume() {
  if (auto state = state_.lock()) {
    state->owner->resume(*state);
  }
}

bool TransferHandle::active() const {
  auto state = state_.lock();
  return state && !state->cancelled && !state->finished;
}

struct Client::Impl {
  Impl(asio::io_context& context, Options options)
      : io(context), engine(context, std::move(options)) {}
  asio::io_context& io;
  Engine engine;
};

Client::Client(asio::io_context& io, Options options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

// Only allocation can throw here, and running out of memory ends the process anyway.
Client::~Client() {  // NOLINT(bugprone-exception-escape)
  if (impl_ && impl_->engine.insideCurl()) {
    // Destroyed from inside one of our handlers: curl is still on the stack, so the multi
    // handle can only go once it has unwound.
    impl_->engine.abandon();
    asio::io_context& io = impl_->io;
    asio::post(io, [impl = std::shared_ptr<Impl>(std::move(impl_))] {});
  }
}

TransferHandle Client::start(Request request, Handlers handlers) {
  auto state = std::make_shared<TransferHandle::State>(impl_->engine, impl_->io);
  impl_->engine.start(state, std::move(request), std::move(handlers));
  return TransferHandle(state);
}

std::string_view describe(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone:
      return "completed";
    case ErrorKind::kConnect:
      return "could not connect to the backend";
    case ErrorKind::kTls:
      return "TLS handshake with the backend failed";
    case ErrorKind::kProxy:
      return "the proxy refused the connection or could not be reached";
    case ErrorKind::kConnectTimeout:
      return "timed out connecting to the backend";
    case ErrorKind::kFirstByteTimeout:
      return "timed out waiting for the backend's first byte";
    case ErrorKind::kIdleTimeout:
      return "the backend went silent mid-response";
    case ErrorKind::kTooLarge:
      return "the backend's response body is too large";
    case ErrorKind::kProtocol:
      return "the backend's response was malformed or cut short";
    case ErrorKind::kOther:
      return "the backend call failed";
  }
  return "the backend call failed";
}

}  // namespace upstream
