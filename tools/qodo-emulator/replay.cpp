#include "replay.h"

#include <boost/json.hpp>
#include <fstream>
#include <stdexcept>

namespace emu {
namespace {

namespace json = boost::json;

std::string decodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) continue;  // '=' padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

Recording loadRecording(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  Recording r;
  std::string line;
  int number = 0;
  json::parse_options options;
  options.allow_invalid_utf8 = true;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(number);
    boost::system::error_code ec;
    json::value v = json::parse(line, ec, {}, options);
    if (ec || !v.is_object()) throw std::runtime_error(where + ": not a JSON object");
    const auto& o = v.as_object();
    const auto* type = o.if_contains("type");
    if (type == nullptr || !type->is_string()) throw std::runtime_error(where + ": no type");
    const std::string_view t = type->get_string();
    auto text = [&](std::string_view key) -> std::string {
      const auto* s = o.if_contains(key);
      return s != nullptr && s->is_string() ? std::string(s->get_string()) : std::string();
    };
    std::chrono::milliseconds at{0};
    if (const auto* ms = o.if_contains("t_ms"); ms != nullptr && ms->is_int64())
      at = std::chrono::milliseconds(ms->get_int64());
    if (t == "request") {
      r.backend = text("backend");
      if (r.backend != "chats" && r.backend != "command")
        throw std::runtime_error(where + ": backend must be chats or command");
    } else if (t == "status") {
      if (const auto* s = o.if_contains("status"); s != nullptr && s->is_int64())
        r.status = static_cast<int>(s->get_int64());
    } else if (t == "data") {
      std::string bytes = o.contains("data_b64") ? decodeBase64(text("data_b64")) : text("data");
      r.steps.push_back({ReplayStep::Kind::kData, at, std::move(bytes)});
    } else if (t == "frame") {
      r.steps.push_back({ReplayStep::Kind::kFrame, at, text("data")});
    } else if (t == "sent") {
      r.steps.push_back({ReplayStep::Kind::kAwaitClient, at, {}});
    }
    // "end" and unknown types: nothing to serve.
  }
  if (r.backend.empty()) throw std::runtime_error(path + ": no request line");
  return r;
}

}  // namespace emu
