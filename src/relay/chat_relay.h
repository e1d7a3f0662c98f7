// One chat request end to end (DESIGN.md, "The way of one request"): parse and validate, build the
// backend request, lease an account that serves the model, run the answer through that account's
// backend (a chats HTTP stream or a command WebSocket session, each decoded into events) into
// OpenAI chunks, count usage, release the lease with its outcome. Retries on another account, of
// either kind, only before the first byte reached the client.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_request.h"
#include "config/config.h"
#include "relay/chunk_sink.h"

namespace boost::asio {
class io_context;
}
namespace upstream {
class Client;
class WsClient;
}
namespace accounts {
class AccountPool;
}
namespace obs {
class MetricsShard;
}

namespace relay {

struct ParkedSessions;  // command sessions waiting for tool results (chat_relay.cpp)
class ChatRelay;

// Which worker's relay holds the parked session waiting for a set of tool calls' results, for
// the whole process: a request that brings them is run on that worker (its client stays on
// its own, through a ForwardingSink). Thread-safe.
class ParkedDirectory {
 public:
  void add(const std::string& key, ChatRelay* owner);
  void remove(const std::string& key, const ChatRelay* owner);
  ChatRelay* ownerOf(const std::string& key) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, ChatRelay*> owners_;
};

struct RelayOptions {
  std::string chatUrl;     // {QODO_API_BASE}/v2/chats/chat
  std::string commandUrl;  // QODO_COMMAND_URL (a command account's tenant base URL wins)
  bool chineseChatEnabled = true;
  bool reasoningHide = false;
  std::string recordDir;  // RECORD_DIR: each backend exchange as JSON lines; empty: off
  // A client with more than this queued and unread pauses the backend transfer.
  size_t maxPendingBytes = 64 * 1024;
  size_t maxLineBytes = 1024 * 1024;
  std::vector<config::ModelAlias> aliases;  // MODEL_ALIASES
  ParkedDirectory* directory = nullptr;      // shared by the workers; null: this worker only
};

// Per worker; every call runs on that worker's io_context thread.
class ChatRelay {
 public:
  ChatRelay(boost::asio::io_context& io, upstream::Client& client, upstream::WsClient& ws,
            accounts::AccountPool& pool, RelayOptions options, obs::MetricsShard& metrics,
            std::atomic<int64_t>& activeStreams);
  ~ChatRelay();
  ChatRelay(const ChatRelay&) = delete;
  ChatRelay& operator=(const ChatRelay&) = delete;

  // Answers the POST /v1/chat/completions body through `sink`, now or later. With `account`,
  // only that account is tried (a check of one account: doctor).
  // `surface`: the body is an OpenAI chat request or an Anthropic messages request, and the
  // answer and errors look like that surface's.
  void handle(std::string_view body, std::shared_ptr<ChunkSink> sink,
              std::optional<int64_t> account = std::nullopt,
              api::Surface surface = api::Surface::kOpenAi);

  // Runs an already parsed request on this worker (a request another worker received).
  void run(api::ChatRequest request, std::shared_ptr<ChunkSink> sink,
           std::optional<int64_t> account, api::Surface surface);

  // POST /v1/messages/count_tokens: {"input_tokens":N}, exactly the input_tokens a message
  // with the same body reports.
  void countTokens(std::string_view body, ChunkSink& sink);

  // The model a client's name stands for: MODEL_ALIASES, then the name itself, then for an
  // Anthropic id the closest Claude model offered; null when nothing serves it.
  const api::ModelInfo* resolveModel(std::string_view requested);

 private:
  friend class ChatCall;
  boost::asio::io_context& io_;
  upstream::Client& client_;
  upstream::WsClient& ws_;
  accounts::AccountPool& pool_;
  RelayOptions options_;
  obs::MetricsShard& metrics_;
  std::atomic<int64_t>& activeStreams_;
  std::mt19937_64 random_;
  std::unique_ptr<ParkedSessions> parked_;
};

}  // namespace relay
