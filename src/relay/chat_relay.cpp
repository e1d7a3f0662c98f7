#include "relay/chat_relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <ctime>
#include <optional>
#include <vector>

#include "accounts/pool.h"
#include "api/chat_request.h"
#include "api/chat_response.h"
#include "conversation/event.h"
#include "obs/metrics.h"
#include "qodo/chat_body.h"
#include "qodo/chats_decoder.h"
#include "qodo/failure.h"
#include "qodo/uuid.h"
#include "relay/usage.h"
#include "upstream/client.h"

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
    return "No Qodo account is configured (QD_COOKIE or POST /admin/accounts).";
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
  }
  return "backend_error";
}

// An answer the gateway could not use (a line beyond the limit, no text) is the backend's
// fault as a whole (502); any other failure is the account's.
FinalKind finalKindOf(qodo::Failure failure) {
  return failure == qodo::Failure::kOversize || failure == qodo::Failure::kNoText
             ? FinalKind::kGateway
             : FinalKind::kAccount;
}

bool isTimeout(upstream::ErrorKind kind) {
  return kind == upstream::ErrorKind::kConnectTimeout ||
         kind == upstream::ErrorKind::kFirstByteTimeout ||
         kind == upstream::ErrorKind::kIdleTimeout;
}

}  // namespace

// The life of one request: attempts on successive accounts until one answers, the client goes
// away, or no account is left. Owned by the callbacks of its transfer and its sink. The backend
// answer arrives as events (the chats decoder's), and the surface's encoder shows them.
class ChatCall : public std::enable_shared_from_this<ChatCall>, private conversation::EventSink {
 public:
  ChatCall(ChatRelay& relay, api::ChatRequest request, std::shared_ptr<ChunkSink> sink)
      : relay_(relay),
        conversation_(std::move(request.conversation)),
        model_(*request.modelInfo),
        sink_(std::move(sink)),
        encoder_(std::make_unique<api::OpenAiAnswer>(
            api::newCompletionId(relay.random_), static_cast<long>(std::time(nullptr)),
            conversation_.model, request.stream, request.includeUsage)),
        decoder_(relay.options_.maxLineBytes, relay.options_.reasoningHide) {}

  void start() {
    sink_->noteModel(conversation_.model);
    promptTokens_ = promptTokens(conversation_, model_.encoding);
    body_ = std::make_shared<const std::string>(qodo::buildChatBody(
        conversation_, model_.backend, relay_.random_, relay_.options_.chineseChatEnabled));
    // Every attempt shares body_; the conversation's messages are not needed any more.
    std::vector<conversation::Message>().swap(conversation_.messages);
    std::weak_ptr<ChatCall> weak = weak_from_this();
    sink_->onClientGone([weak] {
      if (auto self = weak.lock()) self->clientGone();
    });
    attempt();
  }

 private:
  // ---- attempts -------------------------------------------------------------------------------

  void attempt() {
    if (finished_) return;
    lease_ = relay_.pool_.acquire(tried_, accounts::Clock::now());
    if (!lease_) {
      if (lastFailure_.empty())
        respondError(api::noAccount(noAccountMessage(relay_.pool_.counts(accounts::Clock::now()))));
      else
        respondError(finalError(finalKind_, lastFailure_));
      return;
    }
    tried_.push_back(lease_->accountId);
    sink_->noteAccount(lease_->accountId);
    startTransfer();
  }

  void startTransfer() {
    status_ = 0;
    errorBody_.clear();
    decoder_.reset();
    reasoningText_.clear();
    contentText_.clear();
    attemptOver_ = false;

    upstream::Request request;
    request.url = relay_.options_.chatUrl;
    request.headers = {"Authorization: Bearer " + lease_->accessToken,
                       "Content-Type: application/json", "Accept: text/plain",
                       "Request-id: " + qodo::newUuid4(relay_.random_), "User-Agent: axios/1.7.9"};
    // The token is in the header now; a refresh brings a new one. A held stream keeps neither
    // (a Firebase ID token is ~1 KB).
    std::string().swap(lease_->accessToken);
    request.body = body_;
    auto self = shared_from_this();
    upstream::Handlers handlers;
    handlers.onStatus = [self](int status) { self->status_ = status; };
    handlers.onData = [self](std::string_view bytes) { return self->onData(bytes); };
    handlers.onDone = [self](const upstream::Result& result) { self->onDone(result); };
    transfer_ = relay_.client_.start(std::move(request), std::move(handlers));
  }

  upstream::Flow onData(std::string_view bytes) {
    if (attemptOver_ || finished_) return upstream::Flow::kContinue;
    if (status_ != 200) {
      errorBody_.append(
          bytes.substr(0, kErrorBodyBytes - std::min(kErrorBodyBytes, errorBody_.size())));
      return upstream::Flow::kContinue;
    }
    decoder_.feed(bytes, *this);
    // What this read produced leaves in one write.
    flush();
    if (attemptOver_ || finished_) return upstream::Flow::kContinue;
    if (committed_ && sink_->pendingBytes() > relay_.options_.maxPendingBytes) {
      std::weak_ptr<ChatCall> weak = weak_from_this();
      sink_->onDrained([weak] {
        if (auto self = weak.lock()) self->transfer_.resume();
      });
      return upstream::Flow::kPause;
    }
    return upstream::Flow::kContinue;
  }

  void onDone(const upstream::Result& result) {
    if (attemptOver_ || finished_) return;
    if (result.error != upstream::ErrorKind::kNone) {
      const std::string message(upstream::describe(result.error));
      attemptFailed(accounts::Outcome::kFailure,
                    isTimeout(result.error) ? "timeout" : "connection_error",
                    message + (result.message.empty() || result.message == message
                                   ? ""
                                   : " (" + result.message + ")"),
                    isTimeout(result.error) ? FinalKind::kTimeout : FinalKind::kGateway);
      return;
    }
    if (status_ != 200) {
      backendFailed(qodo::classifyFailure(status_, errorBody_), "");
      return;
    }
    decoder_.finish(*this);
    flush();
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
        if (!committed_) {
          // The first text: from here on the client has bytes and no retry is possible.
          committed_ = true;
          // No other account will be tried now: the backend body is not needed any more.
          body_.reset();  // the transfer drops its share once the body is sent
          ++relay_.activeStreams_;
          sink_->startStream();
        }
        reserveFor(event.text.size());
        encoder_->onEvent(event, out_);
        return;
      case EventKind::kToolCallBegin:
      case EventKind::kToolCallArguments:
      case EventKind::kToolCallEnd:
        // The chats decoder produces none (tool calls come with SPEC §10).
        return;
      case EventKind::kEnd:
        succeed();
        return;
      case EventKind::kFailure:
        transfer_.cancel();  // a finished transfer (the end of the body) ignores it
        backendFailed(event.failure, event.text);
        return;
    }
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
    sink_->write(std::move(out_));
    out_ = std::string();
  }

  // A failure the backend reported (status, an error in the answer, an unusable answer).
  void backendFailed(qodo::Failure failure, std::string_view detail) {
    const std::string message(detail.empty() ? qodo::describe(failure) : detail);
    if (failure == qodo::Failure::kInvalidToken && !lease_->refreshed && !committed_) {
      // The first 401: one refresh of this account, then the same call again.
      attemptOver_ = true;
      relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"invalid_token\"");
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
    spdlog::warn("upstream attempt failed: account={} outcome={} error=\"{}\"",
                 lease_ ? lease_->accountId : 0, label, message);
    releaseLease(outcome, message);
    lastFailure_ = std::move(message);
    // Accounts that failed in different ways say nothing about the backend as a whole: 503.
    finalKind_ = failedAttempts_++ == 0 || finalKind_ == kind ? kind : FinalKind::kAccount;
    if (committed_) {
      endStreamWithError(finalError(kind, lastFailure_));
      return;
    }
    // Not from inside this transfer's callbacks: libcurl refuses re-entrant multi calls.
    boost::asio::post(relay_.io_, [self = shared_from_this()] { self->attempt(); });
  }

  void succeed() {
    attemptOver_ = true;
    relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"success\"");
    releaseLease(accounts::Outcome::kSuccess, "");
    finished_ = true;
    const api::Usage usage{
        static_cast<long>(promptTokens_),
        static_cast<long>(completionTokens(model_.encoding, reasoningText_, contentText_))};
    sink_->noteTokens(usage.promptTokens, usage.completionTokens);
    encoder_->finish(api::Answer{contentText_, reasoningText_, usage}, out_);
    if (!encoder_->streaming()) {
      sink_->respondJson(std::move(out_));
      out_ = std::string();
      return;
    }
    flush();
    sink_->finish();
    --relay_.activeStreams_;
  }

  void endStreamWithError(const api::ApiError& error) {
    finished_ = true;
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
    transfer_.cancel();
    relay_.metrics_.count("qodo2api_upstream_attempts_total", "outcome=\"client_gone\"");
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
  conversation::Conversation conversation_;  // its messages only until the body is built
  const api::ModelInfo& model_;
  std::shared_ptr<ChunkSink> sink_;
  std::unique_ptr<api::AnswerEncoder> encoder_;
  std::shared_ptr<const std::string> body_;  // the Qodo request, shared with each attempt
  size_t promptTokens_ = 0;

  std::vector<int64_t> tried_;
  std::optional<accounts::Lease> lease_;
  upstream::TransferHandle transfer_;
  std::string lastFailure_;
  FinalKind finalKind_ = FinalKind::kAccount;
  size_t failedAttempts_ = 0;

  // Per attempt.
  int status_ = 0;
  std::string errorBody_;
  qodo::ChatsDecoder decoder_;
  std::string reasoningText_;
  std::string contentText_;
  std::string out_;  // what the encoder wrote and the client has not been sent yet
  bool attemptOver_ = false;

  bool committed_ = false;  // the stream's headers and first text went to the client
  bool finished_ = false;   // the client has its whole answer (or is gone)
};

ChatRelay::ChatRelay(boost::asio::io_context& io, upstream::Client& client,
                     accounts::AccountPool& pool, RelayOptions options, obs::MetricsShard& metrics,
                     std::atomic<int64_t>& activeStreams)
    : io_(io),
      client_(client),
      pool_(pool),
      options_(std::move(options)),
      metrics_(metrics),
      activeStreams_(activeStreams),
      random_(std::random_device{}()) {}

void ChatRelay::handle(std::string_view body, std::shared_ptr<ChunkSink> sink) {
  auto parsed = api::parseChatRequest(body);
  if (!parsed) {
    sink->respondError(parsed.error());
    return;
  }
  auto call = std::make_shared<ChatCall>(*this, std::move(parsed.request()), std::move(sink));
  call->start();
}

}  // namespace relay
