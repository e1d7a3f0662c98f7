// qodo-emulator: a scriptable fake of the Qodo chat backend and Firebase's token endpoint, for
// the gateway's integration tests, fault tests, demo and benchmarks. Wiring only: flags →
// scenario → registry → server; SIGTERM/SIGINT end it with status 0.
#include <sys/resource.h>

#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "registry.h"
#include "scenario.h"
#include "server.h"

namespace {

constexpr const char* kUsage =
    "usage: qodo-emulator [--port N] [--host ADDR] [--threads N] [--scenario FILE.json]\n"
    "                     [--events N] [--interval-ms N] [--text WORD] [--replay FILE.jsonl]\n"
    "Prints 'listening on <port>' once ready. See tools/qodo-emulator/README.md.\n";

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "qodo-emulator: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

int toInt(const std::string& flag, const std::string& value, int min, int max) {
  try {
    std::size_t used = 0;
    long v = std::stol(value, &used);
    if (used != value.size() || v < min || v > max) throw std::out_of_range(flag);
    return static_cast<int>(v);
  } catch (const std::exception&) {
    usageError(flag + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got '" + value + "'");
  }
}

// Ten thousand streams need ten thousand descriptors: take whatever the hard limit allows.
void raiseDescriptorLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  emu::ServerOptions options;
  std::string scenarioPath;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool inlineValue = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inlineValue = true;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!inlineValue) {
      if (i + 1 >= argc) usageError(arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--port") {
      options.port = static_cast<unsigned short>(toInt(arg, value, 0, 65535));
    } else if (arg == "--host") {
      options.host = value;
    } else if (arg == "--threads") {
      options.threads = toInt(arg, value, 1, 256);
    } else if (arg == "--scenario") {
      scenarioPath = value;
    } else if (arg == "--events") {
      options.cliDefaults.events = toInt(arg, value, 0, 100000000);
    } else if (arg == "--interval-ms") {
      options.cliDefaults.intervalMs = toInt(arg, value, 0, 86400000);
    } else if (arg == "--replay") {
      try {
        options.replay = std::make_shared<const emu::Recording>(emu::loadRecording(value));
      } catch (const std::exception& e) {
        usageError(std::string("replay: ") + e.what());
      }
    } else if (arg == "--text") {
      options.cliDefaults.word = value;
    } else {
      usageError("unknown flag " + arg);
    }
  }

  boost::json::value scenarioJson = boost::json::object{};
  if (!scenarioPath.empty()) {
    std::ifstream in(scenarioPath);
    if (!in) usageError("cannot read scenario " + scenarioPath);
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    scenarioJson = boost::json::parse(ss.str(), ec);
    if (ec) usageError("scenario " + scenarioPath + " is not JSON: " + ec.message());
  }
  emu::Scenario scenario;
  try {
    scenario = emu::parseScenario(scenarioJson, options.cliDefaults);
  } catch (const std::exception& e) {
    usageError(std::string("scenario: ") + e.what());
  }

  raiseDescriptorLimit();
  emu::Registry registry(std::move(scenario));
  emu::Server server(options, registry);
  unsigned short port = 0;
  try {
    port = server.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qodo-emulator: cannot listen on %s:%u: %s\n", options.host.c_str(),
                 options.port, e.what());
    return 1;
  }
  boost::asio::signal_set signals(server.mainContext(), SIGINT, SIGTERM);
  signals.async_wait([&server](const boost::system::error_code&, int) { server.stop(); });

  std::printf("listening on %u\n", port);
  std::fflush(stdout);
  server.run();
  return 0;
}
