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
#include "obs/metrics.h"
#include "qodo/chat_body.h"
#include "qodo/event_parser.h"
#include "qodo/failure.h"
#include "qodo/line_splitter.h"
#include "qodo/reasoning_splitter.h"
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
  }
  return "backend_error";
}

bool isTimeout(upstream::ErrorKind kind) {
  return kind == upstream::ErrorKind::kConnectTimeout ||
         kind == upstream::ErrorKind::kFirstByteTimeout ||
         kind == upstream::ErrorKind::kIdleTimeout;
}

}  // namespace

// The life of one request: attempts on successive accounts until one answers, the client goes
// away, or no account is left. Owned by the callbacks of its transfer and its sink.
class ChatCall : public std::enable_shared_from_this<ChatCall> {
 public:
  ChatCall(ChatRelay& relay, api::ChatRequest request, std::shared_ptr<ChunkSink> sink)
      : relay_(relay),
        request_(std::move(request)),
        sink_(std::move(sink)),
        id_(api::newCompletionId(relay.random_)),
        created_(static_cast<long>(std::time(nullptr))),
        encoder_(id_, created_, request_.model),
        splitter_(relay.options_.maxLineBytes),
        reasoning_(relay.options_.reasoningHide) {}

  void start() {
    sink_->noteModel(request_.model);
    promptTokens_ = promptTokens(request_);
    body_ = std::make_shared<const std::string>(
        qodo::buildChatBody(request_, relay_.random_, relay_.options_.chineseChatEnabled));
    // Every attempt shares body_; the parsed conversation is not needed any more.
    std::vector<api::Message>().swap(request_.messages);
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
    splitter_ = qodo::LineSplitter(relay_.options_.maxLineBytes);
    reasoning_ = qodo::ReasoningSplitter(relay_.options_.reasoningHide);
    reasoningText_.clear();
    contentText_.clear();
    sawText_ = false;
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
    splitter_.feed(bytes);
    drainLines();
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

  void drainLines() {
    for (;;) {
      auto next = splitter_.next();
      switch (next.status) {
        case qodo::LineSplitter::Status::kLine:
          handleLine(next.line);
          if (attemptOver_ || finished_) return;
          continue;
        case qodo::LineSplitter::Status::kNeedMore:
        case qodo::LineSplitter::Status::kDone:
          return;
        case qodo::LineSplitter::Status::kLineTooLong:
          transfer_.cancel();
          attemptFailed(accounts::Outcome::kFailure, "line_too_long",
                        "the backend sent a line longer than " +
                            std::to_string(relay_.options_.maxLineBytes) + " bytes",
                        FinalKind::kGateway);
          return;
      }
    }
  }

  void handleLine(std::string_view line) {
    const qodo::Event event = parser_.parse(line);
    switch (event.kind) {
      case qodo::EventKind::kText:
        if (event.text.empty()) return;
        sawText_ = true;
        emit(reasoning_.feed(event.text));
        return;
      case qodo::EventKind::kError: {
        const qodo::Failure failure = qodo::classifyFailure(200, line);
        transfer_.cancel();
        backendFailed(failure == qodo::Failure::kNone ? qodo::Failure::kBackendError : failure);
        return;
      }
      case qodo::EventKind::kOther:
        spdlog::debug("upstream event ignored: type={}", event.text);
        return;
      case qodo::EventKind::kNotJson:
        spdlog::debug("upstream line is not JSON, skipped ({} bytes)", line.size());
        return;
    }
  }

  void emit(const qodo::ReasoningPieces& pieces) {
    if (pieces.reasoning.empty() && pieces.content.empty()) return;
    reasoningText_ += pieces.reasoning;
    contentText_ += pieces.content;
    if (!request_.stream) return;
    // One allocation for what follows: each chunk is ~190 bytes of JSON plus the model name
    // and its text (longer only by the text's escapes).
    const size_t chunks = (committed_ ? 0 : 1) + (pieces.reasoning.empty() ? 0 : 1) +
                          (pieces.content.empty() ? 0 : 1);
    std::string out;
    out.reserve(chunks * (192 + request_.model.size()) + pieces.reasoning.size() +
                pieces.content.size());
    if (!committed_) {
      // The first text: from here on the client has bytes and no retry is possible.
      committed_ = true;
      // No other account will be tried now: the backend body is not needed any more.
      body_.reset();  // the transfer drops its share once the body is sent
      ++relay_.activeStreams_;
      sink_->startStream();
      encoder_.appendRole(out);
    }
    if (!pieces.reasoning.empty()) encoder_.appendReasoning(out, pieces.reasoning);
    if (!pieces.content.empty()) encoder_.appendContent(out, pieces.content);
    sink_->write(std::move(out));
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
      backendFailed(qodo::classifyFailure(status_, errorBody_));
      return;
    }
    splitter_.finish();
    drainLines();
    if (attemptOver_ || finished_) return;
    emit(reasoning_.flush());
    if (!sawText_) {
      attemptFailed(accounts::Outcome::kFailure, "no_text", "the backend answered without any text",
                    FinalKind::kGateway);
      return;
    }
    succeed();
  }

  // A failure the backend reported (status, or an error object in the body).
  void backendFailed(qodo::Failure failure) {
    const std::string message(qodo::describe(failure));
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
    attemptFailed(outcomeOf(failure), failureLabel(failure), message, FinalKind::kAccount);
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
        static_cast<long>(completionTokens(request_, reasoningText_, contentText_))};
    sink_->noteTokens(usage.promptTokens, usage.completionTokens);
    if (!request_.stream) {
      std::optional<std::string_view> reasoning;
      if (!reasoningText_.empty()) reasoning = reasoningText_;
      sink_->respondJson(
          api::completionJson(id_, created_, request_.model, contentText_, reasoning, usage));
      return;
    }
    std::string out;
    encoder_.appendStop(out);
    if (request_.includeUsage) encoder_.appendUsage(out, usage);
    api::ChunkEncoder::appendDone(out);
    sink_->write(std::move(out));
    sink_->finish();
    --relay_.activeStreams_;
  }

  void endStreamWithError(const api::ApiError& error) {
    finished_ = true;
    std::string out;
    api::ChunkEncoder::appendError(out, error);
    api::ChunkEncoder::appendDone(out);
    sink_->write(std::move(out));
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
  api::ChatRequest request_;
  std::shared_ptr<ChunkSink> sink_;
  std::string id_;
  long created_;
  api::ChunkEncoder encoder_;
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
  qodo::LineSplitter splitter_;
  qodo::EventParser parser_;
  qodo::ReasoningSplitter reasoning_;
  std::string reasoningText_;
  std::string contentText_;
  bool sawText_ = false;
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
