// The HTTP/1.1 server: N workers, each with its own io_context and its own SO_REUSEPORT
// listener on the same port (shard per core); a connection lives on one worker from accept to
// close. Limits: header timeout, header size, body size, keep-alive idle time. Graceful stop:
// stop accepting, close idle connections, let requests in flight finish within the grace time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "http/exchange.h"

namespace boost::asio {
class io_context;
}
namespace obs {
class Metrics;
}

namespace http {

struct ServerLimits {
  uint64_t maxBodyBytes = 10 * 1024 * 1024;
  uint32_t maxHeaderBytes = 32 * 1024;
  uint32_t maxTargetBytes = 8 * 1024;  // the request target (path and query); beyond: 414
  std::chrono::seconds headerTimeout{10};
  std::chrono::seconds keepAliveTimeout{75};
  std::chrono::seconds writeTimeout{300};
};

class Worker;

class Server {
 public:
  // `handlerFor(i, io)` makes worker i's handler, which runs on that worker's io_context.
  using HandlerFactory =
      std::function<std::unique_ptr<Handler>(size_t worker, boost::asio::io_context& io)>;

  // `host`: the address to listen on (an IP); empty: every interface.
  Server(std::string host, uint16_t port, size_t workers, ServerLimits limits,
         obs::Metrics& metrics, HandlerFactory handlerFor);
  ~Server();

  // Binds every worker's listener (throws std::runtime_error with a clear message on failure)
  // and starts the worker threads.
  void start();
  uint16_t port() const { return port_; }

  // Graceful stop; returns when every worker has finished or `grace` has passed and the
  // remaining connections were closed.
  void stop(std::chrono::seconds grace);

  boost::asio::io_context& workerContext(size_t index);

 private:
  std::string host_;
  uint16_t port_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace http
