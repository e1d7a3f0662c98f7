#include "relay/forwarding_sink.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <utility>

namespace relay {

ForwardingSink::ForwardingSink(std::shared_ptr<ChunkSink> target,
                               boost::asio::io_context& targetIo, boost::asio::io_context& hereIo)
    : target_(std::move(target)), targetIo_(targetIo), hereIo_(hereIo) {}

template <typename F>
void ForwardingSink::toTarget(F&& f) {
  boost::asio::post(targetIo_, [target = target_, f = std::forward<F>(f)]() mutable { f(*target); });
}

void ForwardingSink::respondError(const api::ApiError& error) {
  toTarget([error](ChunkSink& t) { t.respondError(error); });
}

void ForwardingSink::respondJson(std::string body) {
  toTarget([body = std::move(body)](ChunkSink& t) mutable { t.respondJson(std::move(body)); });
}

void ForwardingSink::startStream() {
  toTarget([](ChunkSink& t) { t.startStream(); });
}

void ForwardingSink::write(std::string data) {
  const size_t n = data.size();
  shared_->posted += n;
  toTarget([shared = shared_, data = std::move(data), n](ChunkSink& t) mutable {
    t.write(std::move(data));
    shared->clientPending = t.pendingBytes();
    shared->posted -= n;
  });
}

void ForwardingSink::finish() {
  toTarget([](ChunkSink& t) { t.finish(); });
}

size_t ForwardingSink::pendingBytes() const { return shared_->posted + shared_->clientPending; }

void ForwardingSink::onDrained(std::function<void()> callback) {
  toTarget([shared = shared_, here = &hereIo_, callback = std::move(callback)](ChunkSink& t) mutable {
    auto back = [shared, here, callback = std::move(callback)]() mutable {
      shared->clientPending = 0;
      boost::asio::post(*here, std::move(callback));
    };
    // Already drained (the target calls back only on the next drain): go on now.
    if (t.pendingBytes() == 0)
      back();
    else
      t.onDrained(std::move(back));
  });
}

bool ForwardingSink::clientGone() const { return shared_->gone; }

void ForwardingSink::onClientGone(std::function<void()> callback) {
  toTarget([shared = shared_, here = &hereIo_, callback = std::move(callback)](ChunkSink& t) mutable {
    auto back = [shared, here, callback = std::move(callback)]() mutable {
      shared->gone = true;
      boost::asio::post(*here, std::move(callback));
    };
    if (t.clientGone())
      back();
    else
      t.onClientGone(std::move(back));
  });
}

void ForwardingSink::noteModel(std::string_view model) {
  toTarget([model = std::string(model)](ChunkSink& t) { t.noteModel(model); });
}

void ForwardingSink::noteAccount(int64_t accountId) {
  toTarget([accountId](ChunkSink& t) { t.noteAccount(accountId); });
}

void ForwardingSink::noteTokens(int64_t prompt, int64_t completion) {
  toTarget([prompt, completion](ChunkSink& t) { t.noteTokens(prompt, completion); });
}

}  // namespace relay
