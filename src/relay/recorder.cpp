#include "relay/recorder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "api/json_text.h"

namespace relay {
namespace {

std::atomic<uint64_t> counter{0};
std::atomic<bool> warned{false};

// Once per process: a RECORD_DIR that cannot be written records nothing, and says so.
void warnOnce(const std::string& dir, int error) {
  if (warned.exchange(true)) return;
  spdlog::warn("RECORD_DIR {}: cannot write a recording there ({}); exchanges are not recorded",
               dir, std::strerror(error));
}

bool isCredentialHeader(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "authorization" || lower == "cookie" || lower == "x-api-key" ||
         lower == "proxy-authorization";
}

}  // namespace

std::unique_ptr<Recorder> Recorder::open(const std::string& dir, std::string_view backend) {
  if (dir.empty()) return nullptr;
  ::mkdir(dir.c_str(), 0700);
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string path = dir + "/" + stamp + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1)) + "-" + std::string(backend) +
                           ".jsonl";
  // 0600: a recording holds conversations.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    warnOnce(dir, errno);
    return nullptr;
  }
  std::FILE* file = ::fdopen(fd, "w");
  if (file == nullptr) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<Recorder>(new Recorder(file, path, std::string(backend)));
}

Recorder::Recorder(std::FILE* file, std::string path, std::string backend)
    : file_(file), path_(std::move(path)), backend_(std::move(backend)) {}

Recorder::~Recorder() {
  if (!ended_) end("abandoned");
  std::fclose(file_);
}

void Recorder::request(std::string_view method, std::string_view url,
                       const std::vector<std::string>& headers, std::string_view body) {
  using api::appendJsonString;
  std::string out = R"({"type":"request","backend":)";
  appendJsonString(out, backend_);
  out += R"(,"method":)";
  appendJsonString(out, method);
  out += R"(,"url":)";
  appendJsonString(out, url);
  out += R"(,"headers":{)";
  bool first = true;
  for (const auto& h : headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string_view name = std::string_view(h).substr(0, colon);
    std::string_view value = std::string_view(h).substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (!first) out += ',';
    first = false;
    appendJsonString(out, name);
    out += ':';
    if (isCredentialHeader(name)) {
      const auto space = value.find(' ');
      appendJsonString(out, space == std::string_view::npos
                                ? std::string("***")
                                : std::string(value.substr(0, space)) + " ***");
    } else {
      appendJsonString(out, value);
    }
  }
  out += R"(},"body":)";
  appendJsonString(out, body);
  out += "}\n";
  std::fwrite(out.data(), 1, out.size(), file_);
}

void Recorder::line(std::string_view type, std::string_view field, std::string_view value) {
  using api::appendJsonString;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start_)
                      .count();
  std::string out = R"({"t_ms":)" + std::to_string(ms) + R"(,"type":)";
  appendJsonString(out, type);
  out += ',';
  appendJsonString(out, field);
  out += ':';
  out += value;
  out += "}\n";
  std::fwrite(out.data(), 1, out.size(), file_);
}

void Recorder::status(int status) { line("status", "status", std::to_string(status)); }

namespace {

std::string quoted(std::string_view text) {
  std::string out;
  api::appendJsonString(out, text);
  return out;
}

// Whether `text` is well-formed UTF-8 (a read may end inside a character).
bool validUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4              ? 4
                                                       : 0;
    if (len == 0 || i + len > n) return false;
    for (size_t k = 1; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] > 0x9F) ||
        (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] > 0x8F))
      return false;
    i += len;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "\"";
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out + "\"";
}

}  // namespace

// Bytes that are not UTF-8 go as base64 ("data_b64") so the file keeps them exactly.
void Recorder::data(std::string_view bytes) {
  if (validUtf8(bytes))
    line("data", "data", quoted(bytes));
  else
    line("data", "data_b64", base64(bytes));
}
void Recorder::frame(std::string_view frame) { line("frame", "data", quoted(frame)); }
void Recorder::sent(std::string_view frame) { line("sent", "data", quoted(frame)); }

void Recorder::end(std::string_view outcome) {
  if (ended_) return;
  ended_ = true;
  line("end", "outcome", quoted(outcome));
  std::fflush(file_);
}

}  // namespace relay
