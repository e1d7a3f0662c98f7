// The emulator's HTTP/1.1 server: one acceptor handing connections round-robin to N worker
// threads, each running its own io_context; every connection is one coroutine that reads a
// request, answers it as the scenario says, and repeats while the connection is kept alive.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "registry.h"
#include "replay.h"
#include "scenario.h"

namespace emu {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int threads = 1;
  ChatBehaviour cliDefaults;  // what a scenario posted at run time refines
  std::shared_ptr<const Recording> replay;  // --replay: every chat or session serves it
};

class Server {
 public:
  Server(ServerOptions options, Registry& registry);
  ~Server();

  // Binds and listens; returns the bound port. Throws on failure.
  unsigned short listen();
  // Serves until stop(); the calling thread is one of the workers.
  void run();
  // Safe from any thread or a signal handler's completion.
  void stop();

  // The first worker's context, for the caller's signal handling.
  boost::asio::io_context& mainContext() { return *contexts_.front(); }

 private:
  ServerOptions options_;
  Registry& registry_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace emu
