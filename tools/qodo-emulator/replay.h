// `--replay FILE`: a gateway's RECORD_DIR recording (docs/backends.md, "Recordings") served back
// byte for byte. A chats recording answers every POST /v2/chats/chat with the recorded status and
// body reads, in order, at the recorded pace (gaps capped at kMaxGap); a command recording
// answers every WebSocket session with the recorded server frames, waiting for one client frame
// wherever the gateway had sent one. Token exchanges and get-things still follow the scenario.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace emu {

struct ReplayStep {
  enum class Kind { kData, kFrame, kAwaitClient };
  Kind kind = Kind::kData;
  std::chrono::milliseconds at{0};  // since the request
  std::string bytes;
};

struct Recording {
  std::string backend;  // "chats" or "command"
  int status = 200;     // chats
  std::vector<ReplayStep> steps;
};

inline constexpr std::chrono::milliseconds kMaxGap{200};

// Throws std::runtime_error naming the line when the file is not a recording.
Recording loadRecording(const std::string& path);

}  // namespace emu
