#include "relay/account_check.h"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <ctime>

#include "accounts/pool.h"
#include "relay/chat_relay.h"
#include "relay/chunk_sink.h"

namespace relay {
namespace {

constexpr size_t kMaxDetail = 200;

// Where a check's answer goes: the relay's non-streaming response or error, and nothing else.
class CheckSink final : public ChunkSink {
 public:
  explicit CheckSink(std::function<void(bool ok, std::string text)> done) : done_(std::move(done)) {}

  void respondError(const api::ApiError& error) override { set(false, error.message); }
  void respondJson(std::string body) override {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec);
    std::string text;
    if (!ec) {
      const auto* content = parsed.find_pointer("/choices/0/message/content", ec);
      if (content != nullptr && content->is_string()) text = std::string(content->get_string());
    }
    set(true, std::move(text));
  }
  void startStream() override {}
  void write(std::string) override {}
  void finish() override {}
  size_t pendingBytes() const override { return 0; }
  void onDrained(std::function<void()>) override {}
  bool clientGone() const override { return false; }
  void onClientGone(std::function<void()>) override {}
  void noteModel(std::string_view) override {}
  void noteAccount(int64_t) override {}
  void noteTokens(int64_t, int64_t) override {}

 private:
  void set(bool ok, std::string text) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(ok, std::move(text));
  }
  std::function<void(bool, std::string)> done_;
};

}  // namespace

void checkAccount(ChatRelay& relay, accounts::AccountPool& pool, int64_t id, CheckDone done) {
  accounts::CheckResult result;
  result.at = static_cast<int64_t>(std::time(nullptr));
  const auto account = pool.find(id);
  if (!account) {
    result.detail = "no such account";
    done(std::move(result));
    return;
  }
  result.model = accounts::checkModel(*account);
  if (result.model.empty()) {
    result.detail = "the account has not listed its models yet (get-things)";
    pool.noteCheck(id, result);
    done(std::move(result));
    return;
  }
  const boost::json::object body{
      {"model", result.model},
      {"messages", boost::json::array{boost::json::object{{"role", "user"},
                                                          {"content", "Reply with OK."}}}}};
  const auto started = std::chrono::steady_clock::now();
  auto sink = std::make_shared<CheckSink>(
      [&pool, id, started, result, done = std::move(done)](bool ok, std::string text) mutable {
        result.ok = ok;
        result.latencyMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count();
        if (text.size() > kMaxDetail) text.resize(kMaxDetail);
        result.detail = std::move(text);
        pool.noteCheck(id, result);
        done(std::move(result));
      });
  relay.handle(boost::json::serialize(body), sink, id);
}

AccountChecker::AccountChecker(boost::asio::io_context& io, ChatRelay& relay,
                               accounts::AccountPool& pool, std::chrono::seconds interval)
    : timer_(io), relay_(relay), pool_(pool), interval_(interval) {}

AccountChecker::~AccountChecker() { timer_.cancel(); }

void AccountChecker::start() { next(); }

// Waits interval / accounts, then checks the account after the last one checked.
void AccountChecker::next() {
  const auto ids = pool_.ids();
  const auto count = std::max<size_t>(ids.size(), 1);
  timer_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(interval_) /
                       static_cast<long>(count));
  timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    const auto ids = pool_.ids();
    if (ids.empty()) return next();
    int64_t id = ids.front();
    for (int64_t candidate : ids)
      if (candidate > lastId_) {
        id = candidate;
        break;
      }
    lastId_ = id;
    checkAccount(relay_, pool_, id, [this, alive](accounts::CheckResult) {
      if (!alive.expired()) next();
    });
  });
}

}  // namespace relay
