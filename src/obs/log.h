// Logging set-up: one async spdlog logger writing to stdout and to rotating files under
// DATA_DIR/logs/. Everything logs through spdlog's default logger after initLogging().
#pragma once

#include <string>

namespace obs {

struct LogOptions {
  std::string dir;     // empty: stdout only
  bool debug = false;  // DEBUG=true: debug level (bodies, upstream events)
};

// Throws std::runtime_error when the log directory cannot be created or opened.
void initLogging(const LogOptions& options);
void flushLogging();

}  // namespace obs
