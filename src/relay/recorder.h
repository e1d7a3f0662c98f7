// RECORD_DIR (SPEC §9): each backend exchange written as one JSON-lines file, so a user who hits
// a backend change can send it and `qodo-emulator --replay FILE` turns it into a test.
// Line 1: {"type":"request","backend":"chats"|"command","method","url","headers":{…},"body"}
// with every credential replaced by `***`; then one line per event, each with its arrival time
// in milliseconds since the request (`t_ms`): {"type":"status","status"} and
// {"type":"data","data"} (chats: the body bytes of each read, exactly as they came), or
// {"type":"frame","data"} (command: a server frame) and {"type":"sent","data"} (command: a
// frame the gateway sent: the UserQuery, a tool result); last {"type":"end","outcome"}.
// Strings hold the bytes as received; a chats read that is not UTF-8 (a read can end inside
// a character) is written as {"type":"data","data_b64"} instead, so every byte is kept.
// Diagnosis only: the writes are synchronous on the worker's thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace relay {

class Recorder {
 public:
  // A new file in `dir` (created 0700 if missing), or null when it cannot be written.
  static std::unique_ptr<Recorder> open(const std::string& dir, std::string_view backend);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // `headers` as "Name: value"; Authorization and any value holding `secret` become `***`.
  void request(std::string_view method, std::string_view url,
               const std::vector<std::string>& headers, std::string_view body);
  void status(int status);
  void data(std::string_view bytes);
  void frame(std::string_view frame);
  void sent(std::string_view frame);
  void end(std::string_view outcome);

  const std::string& path() const { return path_; }

 private:
  Recorder(std::FILE* file, std::string path, std::string backend);
  void line(std::string_view type, std::string_view field, std::string_view value);

  std::FILE* file_;
  std::string path_;
  std::string backend_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool ended_ = false;
};

}  // namespace relay
