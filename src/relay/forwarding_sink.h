// A ChunkSink on one worker that stands for a client connection owned by another worker: every
// call is posted to the owner's thread, and the owner's callbacks (drained, gone) are posted
// back. It lets a request run on the worker that holds what it needs — a parked command
// session waiting for exactly this request's tool results — while its client stays where it
// connected.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "relay/chunk_sink.h"

namespace boost::asio {
class io_context;
}

namespace relay {

class ForwardingSink final : public ChunkSink {
 public:
  // `target` lives on `targetIo`'s thread; this sink is used on `hereIo`'s.
  ForwardingSink(std::shared_ptr<ChunkSink> target, boost::asio::io_context& targetIo,
                 boost::asio::io_context& hereIo);

  void respondError(const api::ApiError& error) override;
  void respondJson(std::string body) override;
  void startStream() override;
  void write(std::string data) override;
  void finish() override;
  // What was handed over and not yet taken by the client's socket, as the target last said.
  size_t pendingBytes() const override;
  void onDrained(std::function<void()> callback) override;
  bool clientGone() const override;
  void onClientGone(std::function<void()> callback) override;
  void noteModel(std::string_view model) override;
  void noteAccount(int64_t accountId) override;
  void noteTokens(int64_t prompt, int64_t completion) override;

 private:
  struct Shared {
    std::atomic<size_t> posted{0};         // written here, not yet handed to the target
    std::atomic<size_t> clientPending{0};  // the target's pendingBytes after its last write
    std::atomic<bool> gone{false};
  };
  template <typename F>
  void toTarget(F&& f);

  std::shared_ptr<ChunkSink> target_;
  boost::asio::io_context& targetIo_;
  boost::asio::io_context& hereIo_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace relay
