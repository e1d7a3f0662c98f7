#include "obs/log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace obs {
namespace {

// Standard output without a flush per line: spdlog's stdout sink flushes every line, one
// write(2) per request under load. stdio line-buffers a terminal, so someone watching sees each
// line at once; into a pipe or file, lines go out in blocks, warnings and errors at once
// (flush_on) and the rest within a second (flush_every), like nginx's `access_log ... flush=1s`.
class StdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }
};

}  // namespace

void initLogging(const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<StdoutSink>());
  if (!options.dir.empty()) {
    // Log files may hold request bodies under DEBUG: readable by the owner only. The umask
    // also covers the directories made here, DATA_DIR itself included (this runs first, while
    // the process has one thread).
    const mode_t old = ::umask(077);
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    if (ec) {
      ::umask(old);
      throw std::runtime_error("DATA_DIR: cannot create log directory " + options.dir + ": " +
                               ec.message());
    }
    ::chmod(options.dir.c_str(), 0700);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          options.dir + "/qodo2api.log", 20 * 1024 * 1024, 5));
    } catch (const spdlog::spdlog_ex& e) {
      ::umask(old);
      throw std::runtime_error(std::string("DATA_DIR: cannot open log file: ") + e.what());
    }
    ::umask(old);
  }
  // 1,024 queued lines (~400 bytes each, allocated up front) absorb any burst the writer thread
  // cannot keep up with; when full, a worker waits (no line is dropped). 8,192 cost 3.3 MB of
  // resident memory for nothing.
  if (!spdlog::thread_pool()) spdlog::init_thread_pool(1024, 1);
  auto logger = std::make_shared<spdlog::async_logger>("qodo2api", sinks.begin(), sinks.end(),
                                                       spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::block);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(options.debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

void flushLogging() {
  if (auto logger = spdlog::default_logger()) logger->flush();
}

}  // namespace obs
