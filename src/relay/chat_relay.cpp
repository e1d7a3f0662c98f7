#include "relay/chat_relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <utility>
#include <variant>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <ctime>
#include <optional>
#include <vector>

#include "accounts/pool.h"
#include "api/anthropic_request.h"
#include "api/anthropic_response.h"
#include "api/chat_request.h"
#include "api/model_alias.h"
#include "api/chat_response.h"
#include "conversation/event.h"
#include "obs/metrics.h"
#include "qodo/chat_body.h"
#include "qodo/chats_decoder.h"
#include "qodo/command_decoder.h"
#include "qodo/command_query.h"
#include "qodo/failure.h"
#include "qodo/tool_sieve.h"
#include "qodo/uuid.h"
#include "relay/forwarding_sink.h"
#include "relay/recorder.h"
#include "relay/usage.h"
#include "upstream/client.h"
#include "upstream/ws_client.h"

namespace relay {
namespace {

constexpr size_t kErrorBodyBytes = 4096;

// How a request ends when every account failed (SPEC §4): 503, or the failure's own status
// (502, 504) when every account failed that same way.
enum class FinalKind { kAccount, kGateway, kTimeout };

api::ApiError finalError(FinalKind kind, const std::string& lastFailure) {
  switch (kind) {
    case FinalKind::kTimeout:
      return api::gatewayTimeout("The Qodo backend timed out: " + lastFailure);
    case FinalKind::kGateway:
      return api::badGateway("The Qodo backend could not be used: " + lastFailure);
    case FinalKind::kAccount:
      break;
  }
  return api::noAccount("No Qodo account could answer; the last backend error was: " + lastFailure);
}

// Why no account could be tried at all, from the pool's counts: an active account without an
// access token (its exchange failing or not answered yet) is not cooling, exhausted or invalid.
std::string noAccountMessage(const accounts::StateCounts& counts) {
  if (counts.total() == 0)
    return "No Qodo account is configured (QD_COOKIE, QODO_API_KEYS or POST /admin/accounts).";
  std::string reasons;
  auto add = [&reasons](size_t n, std::string_view what) {
    if (n == 0) return;
    if (!reasons.empty()) reasons += ", ";
    reasons += std::to_string(n) + " " + std::string(what);
  };
  add(counts.active - std::min(counts.active, counts.usable),
      "waiting for an access token (the token exchange is failing or has not answered yet)");
  add(counts.cooling, "cooling down after a rate limit");
  add(counts.exhausted, "exhausted");
  add(counts.invalid, "invalid");
  add(counts.disabled, "disabled");
  if (reasons.empty()) reasons = "the accounts are changing state, try again in a moment";
  return "No usable Qodo account right now: " + reasons + ".";
}

accounts::Outcome outcomeOf(qodo::Failure failure) {
  switch (failure) {
    case qodo::Failure::kNone:
      return accounts::Outcome::kSuccess;
    case qodo::Failure::kRateLimited:
      return accounts::Outcome::kRateLimited;
    case qodo::Failure::kUsageExhausted:
      return accounts::Outcome::kUsageExhausted;
    case qodo::Failure::kInvalidToken:
      return accounts::Outcome::kInvalidToken;
    case qodo::Failure::kChineseDetected:
      return accounts::Outcome::kNeutral;
    case qodo::Failure::kForbidden:
    case qodo::Failure::kServerError:
    case qodo::Failure::kBackendError:
    case qodo::Failure::kOversize:
    case qodo::Failure::kNoText:
    case qodo::Failure::kUnreadable:
      break;
  }
  return accounts::Outcome::kFailure;
}

std::string_view failureLabel(qodo::Failure failure) {
  switch (failure) {
    case qodo::Failure::kNone:
      return "success";
    case qodo::Failure::kRateLimited:
      return "rate_limited";
    case qodo::Failure::kUsageExhausted:
      return "usage_exhausted";
    case qodo::Failure::kInvalidToken:
      return "invalid_token";
    case qodo::Failure::kForbidden:
      return "forbidden";
    case qodo::Failure::kServerError:
      return "server_error";
    case qodo::Failure::kChineseDetected:
      return "chinese_detected";
    case qodo::Failure::kBackendError:
      return "backend_error";
    case qodo::Failure::kOversize:
      return "line_too_long";
    case qodo::Failure::kNoText:
      return "no_text";
    case qodo::Failure::kUnreadable:
      return "unreadable";
  }
  return "backend_error";
}

// An answer the gateway could not use (a line beyond the limit, no text) is the backend's
// fault as a whole (502); any other failure is the account's.
FinalKind finalKindOf(qodo::Failure failure) {
  return failure == qodo::Failure::kOversize || failure == qodo::Failure::kNoText ||
                 failure == qodo::Failure::kUnreadable
             ? FinalKind::kGateway
             : FinalKind::kAccount;
}

bool isTimeout(upstream::ErrorKind kind) {
  return kind == upstream::ErrorKind::kConnectTimeout ||
         kind == upstream::ErrorKind::kFirstByteTimeout ||
         kind == upstream::ErrorKind::kIdleTimeout;
}

}  // namespace

class ChatCall;

// Whose handlers a command session's frames reach: the call that runs it, or none while the
// session is parked (its answer ended in client tool calls and it waits for their results).
struct SessionBinding {
  std::shared_ptr<ChatCall> call;
  std::function<void()> parkedEnd;  // the session ended while parked
};

// A parked session, found again by the ids of the calls it waits for (docs/tools.md,
// "Continuing a session").
struct ParkedSession {
  upstream::WsHandle handle;
  std::shared_ptr<SessionBinding> binding;
  int64_t accountId = 0;
  std::string model;                                     // the backend model it answers
  std::vector<qodo::CommandDecoder::ClientCall> calls;   // in index order
  std::vector<std::string> clientIds;                    // the ids the client saw, same order
};

struct ParkedSessions {
  static constexpr size_t kMax = 1024;  // per worker; beyond, sessions are closed as before
  std::unordered_map<std::string, ParkedSession> byKey;

  // The calls' client ids, sorted and joined: a request's results name the same set.
  static std::string keyOf(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    std::string key;
    for (const auto& id : ids) key += id + '\n';
    return key;
  }
};

// The tool results a conversation ends with (trailing tool messages, or a last user message of
// results only), or none when it ends otherwise. They point into `messages`.
std::vector<const conversation::ToolResult*> trailingResults(
    const std::vector<conversation::Message>& messages) {
  std::vector<const conversation::ToolResult*> results;
  for (size_t i = messages.size(); i-- > 0;) {
    const auto& m = messages[i];
    if (m.role != conversation::Role::kTool && m.role != conversation::Role::kUser) break;
    bool onlyResults = !m.parts.empty();
    for (const auto& part : m.parts)
      onlyResults = onlyResults && std::holds_alternative<conversation::ToolResult>(part);
    if (!onlyResults) {
      if (m.role == conversation::Role::kUser && results.empty()) return {};
      break;
    }
    for (const auto& part : m.parts) results.push_back(&std::get<conversation::ToolResult>(part));
    if (m.role == conversation::Role::kUser) break;
  }
  return results;
}

// The life of one request: attempts on successive accounts until one answers, the client goes
// away, or no account is left. Owned by the callbacks of its transfer or session and its sink.
// The backend answer arrives as events (the chats or the command decoder's), and the surface's
// encoder shows them.
class ChatCall : public std::enable_shared_from_this<ChatCall>, private conversation::EventSink {
 public:
  ChatCall(ChatRelay& relay, api::ChatRequest request, std::shared_ptr<ChunkSink> sink,
           std::optional<int64_t> account, api::Surface surface)
      : relay_(relay),
        conversation_(std::move(request.conversation)),
        model_(*request.modelInfo),
        route_{model_.id, request.seedModel,
               request.hasImages ? std::optional(accounts::AccountKind::kCommand) : std::nullopt,
               account},
        sink_(std::move(sink)),
        encoder_(makeEncoder(relay, request, surface, conversation_.model)),
        decoder_(relay.options_.maxLineBytes, relay.options_.reasoningHide),
        commandDecoder_(toolNames(conversation_), relay.options_.reasoningHide),
        sieve_(conversation_.tools, conversation_.parallelToolCalls, this),
        sieveChats_(!conversation_.tools.empty() &&
                    conversation_.toolChoice.mode != conversation::ToolChoice::Mode::kNone) {}

  void start() {
    sink_->noteModel(conversation_.model);
    using accounts::AccountKind;
    const auto offer = relay_.pool_.offering(route_);
    const bool command = offer.command;
    const bool chats = offer.chats && !route_.kind;  // a chats account fits only a seed model
    if (route_.kind && !command) {
      respondError(api::badRequest(
          "The chats backend takes no images, and no command account (QODO_API_KEYS) serves "
          "the model `" +
              conversation_.model +
              "`: send this request without images, or to a model a command account lists in "
              "GET /v1/models.",
          std::nullopt, "images_not_supported"));
      return;
    }
    if (!chats && !command) {
      respondError(api::noAccount(noAccountMessage()));
      return;
    }
    // Only the kinds whose request was built are tried (an account enabled meanwhile waits for
    // the next request).
    route_.kind = chats && command ? std::nullopt
                                   : std::optional(chats ? AccountKind::kChats : AccountKind::kCommand);
    promptTokens_ = promptTokens(conversation_, model_.encoding);
    encoder_->setPromptTokens(static_cast<long>(promptTokens_));
    // Each backend's request is built once, for every attempt of its kind.
    if (chats)
      body_ = std::make_shared<const std::string>(qodo::buildChatBody(
          conversation_, model_.backend, relay_.random_, relay_.options_.chineseChatEnabled));
    if (command)
      queryFrame_ = std::make_shared<std::string>(qodo::userQueryFrame(
          conversation_, model_.backend, qodo::newUuid4(relay_.random_)));
    std::weak_ptr<ChatCall> weak = weak_from_this();
    sink_->onClientGone([weak] {
      if (auto self = weak.lock()) self->clientGone();
    });
    // Results a parked session of this worker may be waiting for (command accounts only).
    const auto results = command ? trailingResults(conversation_.messages)
                                 : std::vector<const conversation::ToolResult*>{};
    const bool continued = !results.empty() && continueParked(results);
    // Every attempt shares the requests built above; the messages are not needed any more.
    std::vector<conversation::Message>().swap(conversation_.messages);
    if (!continued) attempt();
  }

 private:
  // The surface's encoder: OpenAI chunks or Anthropic events.
  // `model`: as the client named it (the request's conversation has moved on by now).
  static std::unique_ptr<api::AnswerEncoder> makeEncoder(ChatRelay& relay,
                                                         api::ChatRequest& request,
                                                         api::Surface surface,
                                                         const std::string& model) {
    if (surface == api::Surface::kAnthropic) {
      api::AnthropicOptions options;
      options.id = api::newMessageId(relay.random_);
      options.model = model;
      options.stream = request.stream;
      options.thinking = request.thinking;
      options.stopSequences = std::move(request.stopSequences);
      options.encoding = request.modelInfo->encoding;
      return std::make_unique<api::AnthropicAnswer>(std::move(options));
    }
    return std::make_unique<api::OpenAiAnswer>(
        api::newCompletionId(relay.random_), static_cast<long>(std::time(nullptr)),
        model, request.stream, request.includeUsage);
  }

  static std::vector<std::string> toolNames(const conversation::Conversation& conversation) {
    std::vector<std::string> names;
    for (const auto& tool : conversation.tools) names.push_back(tool.name);
    return names;
  }

  // ---- attempts -------------------------------------------------------------------------------

  void attempt() {
    if (finished_) return;
    lease_ = relay_.pool_.acquire(tried_, accounts::Clock::now(), route_);
    if (!lease_) {
      if (failedAttempts_ == 0)
        respondError(api::noAccount(noAccountMessage()));
      else
        respondError(finalError(finalKind_, lastFailures()));
      return;
    }
    tried_.push_back(lease_->accountId);
    sink_->noteAccount(lease_->accountId);
    resetAttempt();
    if (lease_->kind == accounts::AccountKind::kCommand)
      startSession();
    else
      startTransfer();
  }

  // Why no account could be tried at all.
  std::string noAccountMessage() const {
    if (!relay_.pool_.offers(route_) &&
        relay_.pool_.counts(accounts::Clock::now()).total() > 0)
      return "No Qodo account serves the model `" + conversation_.model +
             "` right now (GET /v1/models lists what the accounts serve).";
    return relay::noAccountMessage(relay_.pool_.counts(accounts::Clock::now()));
  }

  // The last failure of each kind of account that was tried (SPEC §4, §9).
  std::string lastFailures() const {
    const std::string& chats = lastFailure_[0];
    const std::string& command = lastFailure_[1];
    if (chats.empty()) return command;
    if (command.empty()) return chats;
    return "chats account: " + chats + "; command account: " + command;
  }

  void resetAttempt() {
    status_ = 0;
    errorBody_.clear();
    decoder_.reset();
    commandDecoder_.reset();
    sieve_.reset();
    reasoningText_.clear();
    contentText_.clear();
    toolText_.clear();
    attemptOver_ = false;
    querySent_ = false;
    recorder_.reset();
  }

  void startTransfer() {
    upstream::Request request;
    request.url = relay_.options_.chatUrl;
    request.headers = {"Authorization: Bearer " + lease_->accessToken,
                       "Content-Type: application/json", "Accept: text/plain",
                       "Request-id: " + qodo::newUuid4(relay_.random_), "User-Agent: axios/1.7.9"};
    // The token is in the header now; a refresh brings a new one. A held stream keeps neither
    // (a Firebase ID token is ~1 KB).
    std::string().swap(lease_->accessToken);
    request.body = body_;
    if (!relay_.options_.recordDir.empty()) {
      recorder_ = Recorder::open(relay_.options_.recordDir, "chats");
      if (recorder_) recorder_->request("POST", request.url, request.headers, *body_);
    }
    auto self = shared_from_this();
    upstream::Handlers handlers;
    handlers.onStatus = [self](int status) {
      self->status_ = status;
      if (self->recorder_) self->recorder_->status(status);
    };
    handlers.onData = [self](std::string_view bytes) { return self->onData(bytes); };
    handlers.onDone = [self](const upstream::Result& result) { self->onDone(result); };
    transfer_ = relay_.client_.start(std::move(request), std::move(handlers));
  }

  // Where the chats decoder's events go: through the tool sieve when the client declared tools
  // (the calls are markup in the text there, SPEC §10), else straight to the answer.
  conversation::EventSink& chatsEvents() {
    if (sieveChats_) return sieve_;
    return *this;
  }

  // A command account's attempt: a session of its own, the query once the server is Ready.
  void startSession() {
    const std::string sessionId = qodo::newUuid4(relay_.random_);
    qodo::setSessionId(*queryFrame_, sessionId);
    upstream::WsRequest request;
    request.url = wsUrl(lease_->baseUrl.empty() ? relay_.options_.commandUrl : lease_->baseUrl) +
                  "?session_id=" + sessionId + "&request_id=" + qodo::newUuid4(relay_.random_);
    request.headers = {"Authorization: Bearer " + lease_->accessToken};
    std::string().swap(lease_->accessToken);
    if (!relay_.options_.recordDir.empty()) {
      recorder_ = Recorder::open(relay_.options_.recordDir, "command");
      if (recorder_) recorder_->request("GET", request.url, request.headers, "");
    }
    auto binding = std::make_shared<SessionBinding>();
    binding->call = shared_from_this();
    binding_ = binding;
    upstream::WsHandlers handlers;
    handlers.onFrame = [binding](std::string_view frame) {
      // A local reference: the call may unbind itself (park the session) in this frame.
      const auto call = binding->call;
      return call ? call->onFrame(frame) : upstream::Flow::kContinue;
    };
    handlers.onDone = [binding](const upstream::WsResult& result) {
      if (const auto call = binding->call) return call->onSessionDone(result);
      if (auto end = std::exchange(binding->parkedEnd, nullptr)) end();
    };
    session_ = relay_.ws_.start(std::move(request), std::move(handlers));
  }

  // http(s)://host → ws(s)://host/v2/agentic/ws/connect (QODO-PROTOCOL.md §1).
  static std::string wsUrl(std::string_view base) {
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    std::string url = base.substr(0, 4) == "http" ? "ws" + std::string(base.substr(4))
                                                  : std::string(base);
    return url + "/v2/agentic/ws/connect";
  }

  upstream::Flow onData(std::string_view bytes) {
    if (attemptOver_ || finished_) return upstream::Flow::kContinue;
    if (recorder_) recorder_->data(bytes);
    if (status_ != 200) {
      errorBody_.append(
          bytes.substr(0, kErrorBodyBytes - std::min(kErrorBodyBytes, errorBody_.size())));
      return upstream::Flow::kContinue;
    }
    decoder_.feed(bytes, chatsEvents());
    return afterRead([](ChatCall& call) { call.transfer_.resume(); });
  }

  upstream::Flow onFrame(std::string_view frame) {
    if (attemptOver_ || finished_) return upstream::Flow::kContinue;
    if (recorder_) recorder_->frame(frame);
    if (!querySent_) {
      // Until the server is Ready only an error frame means something.
      if (qodo::isReadyFrame(frame) && queryFrame_) {
        querySent_ = true;
        if (recorder_) recorder_->sent(*queryFrame_);
        session_.send(*queryFrame_);
        return upstream::Flow::kContinue;
      }
    }
    commandDecoder_.feed(frame, *this);
    if (std::string reply = commandDecoder_.takeOutgoing(); !reply.empty() && !attemptOver_) {
      if (recorder_) recorder_->sent(reply);
      session_.send(std::move(reply));
    }
    if (attemptOver_ || finished_) return upstream::Flow::kContinue;
    // Frames that came in one socket read reach us one loop turn each: write them to the
    // client together, once no more of them are queued (as the chats path writes one backend
    // read at once), instead of one client write per frame.
    ++framesSeen_;
    if (!flushScheduled_ && committed_) {
      flushScheduled_ = true;
      framesChecked_ = framesSeen_;
      flushRounds_ = 0;
      postFlushCheck();
    }
    return keepUp([](ChatCall& call) { call.session_.resume(); });
  }

  void postFlushCheck() {
    boost::asio::post(relay_.io_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->flushWhenQuiet();
    });
  }

  // Waits a loop turn at a time while frames keep arriving (bounded), then writes them. The
  // first turn always waits: the next buffered frame's completion is queued behind this one.
  void flushWhenQuiet() {
    constexpr int kMaxRounds = 64;
    const bool arriving = flushRounds_ == 0 || framesSeen_ != framesChecked_;
    if (arriving && ++flushRounds_ < kMaxRounds && out_.size() < 16384) {
      framesChecked_ = framesSeen_;
      postFlushCheck();
      return;
    }
    flushScheduled_ = false;
    flush();
  }

  // What one backend read produced leaves in one write.
  upstream::Flow afterRead(void (*resume)(ChatCall&)) {
    flush();
    if (attemptOver_ || finished_) return upstream::Flow::kContinue;
    return keepUp(resume);
  }

  // A client that does not keep up stops the backend (`resume` starts it again once the
  // client drained).
  upstream::Flow keepUp(void (*resume)(ChatCall&)) {
    if (committed_ && sink_->pendingBytes() > relay_.options_.maxPendingBytes) {
      std::weak_ptr<ChatCall> weak = weak_from_this();
      sink_->onDrained([weak, resume] {
        if (auto self = weak.lock()) resume(*self);
      });
      return upstream::Flow::kPause;
    }
    return upstream::Flow::kContinue;
  }

  void onDone(const upstream::Result& result) {
    if (attemptOver_ || finished_) return;
    if (result.error != upstream::ErrorKind::kNone) return transportFailed(result.error, result.message);
    if (status_ != 200) {
      backendFailed(qodo::classifyFailure(status_, errorBody_), "");
      return;
    }
    decoder_.finish(chatsEvents());
    flush();
  }

  void onSessionDone(const upstream::WsResult& result) {
    if (attemptOver_ || finished_) return;
    if (result.status != 0 && result.status != 101) {
      // The upgrade was refused: the status says why, as on the chats backend.
      const auto failure = qodo::classifyFailure(result.status, "");
      backendFailed(failure, "the command backend refused the session: HTTP " +
                                 std::to_string(result.status));
      return;
    }
    if (result.closeCode == 1008) {
      backendFailed(qodo::Failure::kInvalidToken,
                    "the command backend closed the session: authentication failed (1008)");
      return;
    }
    // A socket that ends without a close frame, once the session took the query, is the
    // session closing: the decoder knows whether the answer was complete.
    if (result.error != upstream::ErrorKind::kNone && (!querySent_ || isTimeout(result.error)))
      return transportFailed(result.error, result.message);
    commandDecoder_.finish(*this);
    flush();
  }

  void transportFailed(upstream::ErrorKind error, const std::string& detail) {
    const std::string message(upstream::describe(error));
    attemptFailed(accounts::Outcome::kFailure, isTimeout(error) ? "timeout" : "connection_error",
                  message + (detail.empty() || detail == message ? "" : " (" + detail + ")"),
                  isTimeout(error) ? FinalKind::kTimeout : FinalKind::kGateway);
  }

  // ---- the answer's events --------------------------------------------------------------------

  void onEvent(const conversation::Event& event) override {
    if (attemptOver_ || finished_) return;
    using conversation::EventKind;
    switch (event.kind) {
      case EventKind::kText:
      case EventKind::kReasoning:
        (event.kind == EventKind::kText ? contentText_ : reasoningText_) += event.text;
        if (!encoder_->streaming()) return;
        commit();
        reserveFor(event.text.size());
        encoder_->onEvent(event, out_);
        return;
      case EventKind::kToolCallBegin:
      case EventKind::kToolCallArguments:
      case EventKind::kToolCallEnd:
        // A call (SPEC §10): its name and arguments count as the answer's tokens.
        if (event.kind != EventKind::kToolCallEnd) toolText_ += event.text;
        if (encoder_->streaming()) {
          commit();
          reserveFor(event.text.size());
        }
        encoder_->onEvent(event, out_);  // a whole answer keeps the call for its end
        return;
      case EventKind::kEnd:
        succeed();
        return;
      case EventKind::kFailure:
        stopBackend();
        backendFailed(event.failure, event.text);
        return;
    }
  }

  // The first bytes for the client: from here on no retry is possible.
  void commit() {
    if (committed_) return;
    committed_ = true;
    // No other account will be tried now: the backend requests are not needed any more.
    body_.reset();  // the transfer drops its share once the body is sent
    queryFrame_.reset();  // the session sent its copy long before the first text
    ++relay_.activeStreams_;
    sink_->startStream();
    if (encoder_->wantsPings()) schedulePing();
  }

  // A client that expects a sign of life (Anthropic's `ping`) gets one whenever nothing was
  // written for kPingInterval while the backend is silent.
  static constexpr std::chrono::seconds kPingInterval{15};

  void schedulePing() {
    if (!pingTimer_) pingTimer_ = std::make_unique<boost::asio::steady_timer>(relay_.io_);
    pingTimer_->expires_at(lastWrite_ + kPingInterval);
    pingTimer_->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->pingDue();
    });
  }

  void pingDue() {
    if (finished_) return;
    if (std::chrono::steady_clock::now() - lastWrite_ >= kPingInterval) {
      encoder_->ping(out_);
      flush();
    }
    schedulePing();
  }

  // Ends this attempt's backend exchange (a finished transfer or session ignores it).
  void stopBackend() {
    transfer_.cancel();
    session_.cancel();
  }

  // Room for one more chunk in out_ (~190 bytes of JSON, the model name and the text, longer
  // only by the text's escapes), growing geometrically when one read brings many events.
  void reserveFor(size_t textBytes) {
    const size_t need = out_.size() + 224 + conversation_.model.size() + textBytes;
    if (need > out_.capacity()) out_.reserve(std::max(need, 2 * out_.capacity()));
  }

  // What the encoder wrote goes to the client in one piece.
  void flush() {
    if (out_.empty() || !committed_) return;
    lastWrite_ = std::chrono::steady_clock::now();
    sink_->write(std::move(out_));
    out_ = std::string();
  }

  // A failure the backend reported (status, an error in the answer, an unusable answer).
  void backendFailed(qodo::Failure failure, std::string_view detail) {
    stopBackend();
    const std::string message(detail.empty() ? qodo::describe(failure) : detail);
    if (failure == qodo::Failure::kInvalidToken && !lease_->refreshed && !committed_) {
      // The first 401: one refresh of this account, then the same call again.
      attemptOver_ = true;
      relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"invalid_token\"");
      if (recorder_) recorder_->end(message + " (refreshing the token, then again)");
      // A strong reference: once this transfer ends, nothing else keeps the call alive while
      // the exchange runs, and the client would wait for ever.
      auto& io = relay_.io_;
      relay_.pool_.refreshNow(lease_->accountId, [self = shared_from_this(),
                                                  &io](std::optional<std::string> token) mutable {
        boost::asio::post(
            io, [self = std::move(self), token = std::move(token)] { self->refreshed(token); });
      });
      return;
    }
    if (failure == qodo::Failure::kChineseDetected) {
      attemptOver_ = true;
      relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"chinese_detected\"");
      if (recorder_) recorder_->end(message);
      releaseLease(accounts::Outcome::kNeutral, "");
      const std::string text =
          "The Qodo backend refused this conversation because it is in Chinese. Set "
          "CHINESE_CHAT_ENABLED=true on the gateway to work around it.";
      if (committed_)
        endStreamWithError(api::badRequest(text, std::nullopt, "chinese_not_allowed"));
      else
        respondError(api::badRequest(text, std::nullopt, "chinese_not_allowed"));
      return;
    }
    attemptFailed(outcomeOf(failure), failureLabel(failure), message, finalKindOf(failure));
  }

  void refreshed(const std::optional<std::string>& token) {
    if (finished_) {
      releaseLease(accounts::Outcome::kNeutral, "");
      return;
    }
    if (token) {
      lease_->accessToken = *token;
      lease_->refreshed = true;
      resetAttempt();
      startTransfer();
      return;
    }
    attemptFailed(accounts::Outcome::kFailure, "refresh_failed",
                  "the account's token could not be refreshed", FinalKind::kAccount);
  }

  void attemptFailed(accounts::Outcome outcome, std::string_view label, std::string message,
                     FinalKind kind) {
    attemptOver_ = true;
    relay_.metrics_.count("qodo2api_upstream_attempts_total",
                          "outcome=\"" + std::string(label) + "\"");
    const bool command = lease_ && lease_->kind == accounts::AccountKind::kCommand;
    spdlog::warn("upstream attempt failed: account={} kind={} outcome={} error=\"{}\"",
                 lease_ ? lease_->accountId : 0, command ? "command" : "chats", label, message);
    releaseLease(outcome, message);
    if (recorder_) recorder_->end(message);
    lastFailure_[command ? 1 : 0] = std::move(message);
    // Accounts that failed in different ways say nothing about the backend as a whole: 503.
    finalKind_ = failedAttempts_++ == 0 || finalKind_ == kind ? kind : FinalKind::kAccount;
    if (committed_) {
      endStreamWithError(finalError(kind, lastFailure_[command ? 1 : 0]));
      return;
    }
    // Not from inside this transfer's callbacks: libcurl refuses re-entrant multi calls.
    boost::asio::post(relay_.io_, [self = shared_from_this()] { self->attempt(); });
  }

  void succeed() {
    attemptOver_ = true;
    // A command session stays open after its answer: parked when it waits for the results of
    // client tool calls, else closed (nothing more is read from it).
    if (!park()) session_.cancel();
    relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"success\"");
    releaseLease(accounts::Outcome::kSuccess, "");
    if (recorder_) recorder_->end("answered");
    finished_ = true;
    const api::Usage usage{
        static_cast<long>(promptTokens_),
        static_cast<long>(completionTokens(model_.encoding, reasoningText_,
                                           toolText_.empty() ? contentText_
                                                             : contentText_ + toolText_))};
    sink_->noteTokens(usage.promptTokens, usage.completionTokens);
    if (encoder_->streaming()) commit();
    encoder_->finish(api::Answer{contentText_, reasoningText_, usage}, out_);
    if (!encoder_->streaming()) {
      sink_->respondJson(std::move(out_));
      out_ = std::string();
      return;
    }
    flush();
    if (pingTimer_) pingTimer_->cancel();
    sink_->finish();
    --relay_.activeStreams_;
  }

  // Keeps this attempt's session for the request that brings its calls' results (the session
  // waits for them as IDERetrievalAnswer frames). Only a command session whose answer ended in
  // client tool calls, still open, and while the worker holds fewer than ParkedSessions::kMax.
  bool park() {
    auto binding = binding_.lock();
    auto& parked = relay_.parked_->byKey;
    if (!binding || !lease_ || lease_->kind != accounts::AccountKind::kCommand ||
        commandDecoder_.clientCalls().empty() || !session_.active() ||
        parked.size() >= ParkedSessions::kMax)
      return false;
    ParkedSession p;
    p.handle = session_;
    p.binding = binding;
    p.accountId = lease_->accountId;
    p.model = std::string(model_.backend);
    p.calls = commandDecoder_.clientCalls();
    for (size_t i = 0; i < p.calls.size(); ++i) p.clientIds.push_back(encoder_->toolCallId(i));
    std::string key = ParkedSessions::keyOf(p.clientIds);
    binding->parkedEnd = [&relay = relay_, key] {
      relay.parked_->byKey.erase(key);
      if (relay.options_.directory) relay.options_.directory->remove(key, &relay);
    };
    if (relay_.options_.directory) relay_.options_.directory->add(key, &relay_);
    binding->call.reset();  // the frame in progress holds its own reference
    parked.insert_or_assign(std::move(key), std::move(p));
    session_ = {};
    relay_.metrics_.count("qodo2api_tool_sessions_total", "event=\"parked\"");
    return true;
  }

  // The request brings exactly the results a parked session waits for: they go to that
  // session as IDERetrievalAnswer frames (one now, the rest one per Ready) and its answer goes
  // on — no new session, no resent conversation. False (and the request takes its usual way)
  // when no session waits for them or its account cannot be leased now.
  bool continueParked(const std::vector<const conversation::ToolResult*>& results) {
    std::vector<std::string> ids;
    for (const auto* r : results) ids.push_back(r->callId);
    auto& parked = relay_.parked_->byKey;
    const auto it = parked.find(ParkedSessions::keyOf(ids));
    if (it == parked.end()) return false;
    ParkedSession p = std::move(it->second);
    if (relay_.options_.directory) relay_.options_.directory->remove(it->first, &relay_);
    parked.erase(it);
    p.binding->parkedEnd = nullptr;
    if (p.model != model_.backend || !p.handle.active()) {
      p.handle.cancel();
      return false;
    }
    lease_ = relay_.pool_.acquire(
        tried_, accounts::Clock::now(),
        accounts::Route{model_.id, route_.seedModel, accounts::AccountKind::kCommand, p.accountId});
    if (!lease_) {
      p.handle.cancel();
      return false;
    }
    tried_.push_back(lease_->accountId);
    sink_->noteAccount(lease_->accountId);
    resetAttempt();
    std::string().swap(lease_->accessToken);
    session_ = p.handle;
    binding_ = p.binding;
    p.binding->call = shared_from_this();
    querySent_ = true;
    std::vector<std::string> frames;
    for (size_t i = 0; i < p.calls.size(); ++i) {
      for (const auto* r : results) {
        if (r->callId != p.clientIds[i]) continue;
        frames.push_back(qodo::toolResultFrame(p.calls[i].tool, p.calls[i].backendId, r->content,
                                               r->isError));
        break;
      }
    }
    if (!relay_.options_.recordDir.empty()) {
      recorder_ = Recorder::open(relay_.options_.recordDir, "command");
      if (recorder_) recorder_->request("GET", "(a parked session, continued)", {}, "");
      if (recorder_) recorder_->sent(frames.front());
    }
    session_.send(frames.front());
    frames.erase(frames.begin());
    commandDecoder_.queueAnswers(std::move(frames));
    relay_.metrics_.count("qodo2api_tool_sessions_total", "event=\"continued\"");
    return true;
  }

  void endStreamWithError(const api::ApiError& error) {
    finished_ = true;
    if (pingTimer_) pingTimer_->cancel();
    encoder_->fail(error, out_);
    flush();
    sink_->finish();
    --relay_.activeStreams_;
  }

  void respondError(const api::ApiError& error) {
    finished_ = true;
    sink_->respondError(error);
  }

  void clientGone() {
    if (finished_) return;
    finished_ = true;
    stopBackend();
    if (pingTimer_) pingTimer_->cancel();
    relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"client_gone\"");
    if (recorder_) recorder_->end("client_gone");
    // The client left; the account did nothing wrong.
    if (!attemptOver_) releaseLease(accounts::Outcome::kNeutral, "");
    if (committed_) --relay_.activeStreams_;
  }

  void releaseLease(accounts::Outcome outcome, std::string_view error) {
    if (!lease_) return;
    relay_.pool_.release(*lease_, outcome, error, accounts::Clock::now());
    lease_.reset();
  }

  ChatRelay& relay_;
  conversation::Conversation conversation_;  // its messages only until the requests are built
  const api::ModelInfo& model_;
  accounts::Route route_;
  std::shared_ptr<ChunkSink> sink_;
  std::unique_ptr<api::AnswerEncoder> encoder_;
  std::shared_ptr<const std::string> body_;  // the chats request, shared with each attempt
  std::shared_ptr<std::string> queryFrame_;   // the command UserQuery; its session id per attempt
  size_t promptTokens_ = 0;

  std::vector<int64_t> tried_;
  std::optional<accounts::Lease> lease_;
  upstream::TransferHandle transfer_;
  upstream::WsHandle session_;
  std::weak_ptr<SessionBinding> binding_;  // the session's (which holds it)
  std::string lastFailure_[2];  // by kind: chats, command
  FinalKind finalKind_ = FinalKind::kAccount;
  size_t failedAttempts_ = 0;

  // Per attempt.
  int status_ = 0;
  std::string errorBody_;
  qodo::ChatsDecoder decoder_;
  qodo::CommandDecoder commandDecoder_;
  qodo::ToolSieve sieve_;  // chats answers' tool markup → tool-call events
  bool sieveChats_;
  bool querySent_ = false;
  // Command frames written to the client together (flushWhenQuiet).
  bool flushScheduled_ = false;
  uint64_t framesSeen_ = 0;
  uint64_t framesChecked_ = 0;
  int flushRounds_ = 0;
  std::unique_ptr<Recorder> recorder_;  // RECORD_DIR
  std::string reasoningText_;
  std::string contentText_;
  std::string toolText_;  // tool calls' names and arguments, for the usage count
  std::string out_;  // what the encoder wrote and the client has not been sent yet
  bool attemptOver_ = false;

  std::unique_ptr<boost::asio::steady_timer> pingTimer_;  // streams that want pings
  std::chrono::steady_clock::time_point lastWrite_ = std::chrono::steady_clock::now();

  bool committed_ = false;  // the stream's headers and first text went to the client
  bool finished_ = false;   // the client has its whole answer (or is gone)
};

ChatRelay::ChatRelay(boost::asio::io_context& io, upstream::Client& client,
                     upstream::WsClient& ws, accounts::AccountPool& pool, RelayOptions options,
                     obs::MetricsShard& metrics, std::atomic<int64_t>& activeStreams)
    : io_(io),
      client_(client),
      ws_(ws),
      pool_(pool),
      options_(std::move(options)),
      metrics_(metrics),
      activeStreams_(activeStreams),
      random_(std::random_device{}()),
      parked_(std::make_unique<ParkedSessions>()) {}

ChatRelay::~ChatRelay() = default;

const api::ModelInfo* ChatRelay::resolveModel(std::string_view requested) {
  std::string_view name = requested;
  std::string closest;
  if (const auto* rule = api::matchAlias(options_.aliases, requested)) {
    name = rule->model;
  } else if (!api::findModel(requested) && !pool_.listsModel(requested) &&
             api::isAnthropicModelId(requested)) {
    // An Anthropic model id (Claude Code, the Anthropic SDKs): the closest Claude model the
    // accounts offer (docs/anthropic.md).
    std::vector<std::string> offered;
    if (pool_.offers(accounts::Route{"", true, accounts::AccountKind::kChats, std::nullopt}))
      for (const auto& m : api::models()) offered.emplace_back(m.id);
    for (auto& live : pool_.liveModels()) offered.push_back(std::move(live));
    closest = api::closestClaude(requested, offered);
    if (!closest.empty()) name = closest;
  }
  if (const auto* seed = api::findModel(name)) return seed;
  return pool_.listsModel(name) ? api::liveModel(name) : nullptr;
}

void ChatRelay::handle(std::string_view body, std::shared_ptr<ChunkSink> sink,
                       std::optional<int64_t> account, api::Surface surface) {
  auto resolve = [this](std::string_view id) { return resolveModel(id); };
  auto parsed = surface == api::Surface::kAnthropic ? api::parseMessagesRequest(body, resolve)
                                                    : api::parseChatRequest(body, resolve);
  if (!parsed) {
    // A model no list names may be one a command account would list once its get-things
    // answers: say so rather than that the model does not exist.
    if (parsed.error().code == "model_not_found") {
      if (const size_t waiting = pool_.unlistedCommandAccounts(); waiting > 0) {
        sink->respondError(api::noAccount(
            "The model is in no account's list yet: " + std::to_string(waiting) +
            " command account(s) have not listed their models (get-things is failing or has "
            "not answered; GET /admin/accounts shows why)."));
        return;
      }
    }
    sink->respondError(parsed.error());
    return;
  }
  // Tool results a session parked on another worker waits for: the request runs there.
  if (options_.directory && !account) {
    std::vector<std::string> ids;
    for (const auto* r : trailingResults(parsed.request().conversation.messages))
      ids.push_back(r->callId);
    if (!ids.empty()) {
      ChatRelay* owner = options_.directory->ownerOf(ParkedSessions::keyOf(std::move(ids)));
      if (owner && owner != this) {
        auto forward = std::make_shared<ForwardingSink>(std::move(sink), io_, owner->io_);
        boost::asio::post(owner->io_, [owner, forward, surface,
                                       request = std::make_shared<api::ChatRequest>(
                                           std::move(parsed.request()))]() mutable {
          owner->run(std::move(*request), std::move(forward), std::nullopt, surface);
        });
        return;
      }
    }
  }
  run(std::move(parsed.request()), std::move(sink), account, surface);
}

void ChatRelay::run(api::ChatRequest request, std::shared_ptr<ChunkSink> sink,
                    std::optional<int64_t> account, api::Surface surface) {
  auto call = std::make_shared<ChatCall>(*this, std::move(request), std::move(sink), account,
                                         surface);
  call->start();
}

void ParkedDirectory::add(const std::string& key, ChatRelay* owner) {
  std::lock_guard lock(mutex_);
  owners_[key] = owner;
}

void ParkedDirectory::remove(const std::string& key, const ChatRelay* owner) {
  std::lock_guard lock(mutex_);
  if (auto it = owners_.find(key); it != owners_.end() && it->second == owner) owners_.erase(it);
}

ChatRelay* ParkedDirectory::ownerOf(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = owners_.find(key);
  return it == owners_.end() ? nullptr : it->second;
}

void ChatRelay::countTokens(std::string_view body, ChunkSink& sink) {
  auto parsed = api::parseMessagesRequest(
      body, [this](std::string_view id) { return resolveModel(id); }, true);
  if (!parsed) {
    sink.respondError(parsed.error());
    return;
  }
  const auto& request = parsed.request();
  sink.respondJson(R"({"input_tokens":)" +
                   std::to_string(promptTokens(request.conversation, request.modelInfo->encoding)) +
                   "}");
}

}  // namespace relay
