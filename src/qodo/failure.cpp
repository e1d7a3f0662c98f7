#include "qodo/failure.h"

namespace qodo {
namespace {

std::string_view skipSpace(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  return s;
}

bool consume(std::string_view& s, std::string_view token) {
  s = skipSpace(s);
  if (s.substr(0, token.size()) != token) return false;
  s.remove_prefix(token.size());
  return true;
}

bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// When the body opens with {"error": (spacing tolerated), what follows the colon: the string's
// characters when the error is a string, otherwise the rest of the body.
struct LeadingError {
  bool present = false;
  bool isString = false;
  std::string_view text;
};

LeadingError leadingError(std::string_view body) {
  std::string_view s = skipSpace(body);
  if (s.substr(0, 5) == "data:") s.remove_prefix(5);
  if (!consume(s, "{") || !consume(s, "\"error\"") || !consume(s, ":")) return {};
  s = skipSpace(s);
  if (!s.empty() && s.front() == '"') return {true, true, s.substr(1)};
  return {true, false, s};
}

bool errorSays(const LeadingError& error, std::string_view phrase) {
  if (!error.present) return false;
  return error.isString ? error.text.substr(0, phrase.size()) == phrase
                        : contains(error.text, phrase);
}

}  // namespace

Failure classifyFailure(int status, std::string_view body) {
  const LeadingError error = leadingError(body);
  if (errorSays(error, "Usage limit exceeded")) return Failure::kUsageExhausted;
  if (contains(body, "Detected that you are using Chinese")) return Failure::kChineseDetected;
  if (status == 429 || errorSays(error, "Too many concurrent requests"))
    return Failure::kRateLimited;
  if (status == 401 || errorSays(error, "Invalid token") ||
      contains(body, R"({"error":"Invalid token"})"))
    return Failure::kInvalidToken;
  if (status == 403) return Failure::kForbidden;
  if (status >= 500 && status <= 599) return Failure::kServerError;
  if (status < 200 || status > 299 || error.present) return Failure::kBackendError;
  return Failure::kNone;
}

std::string_view describe(Failure failure) {
  switch (failure) {
    case Failure::kNone:
      return "ok";
    case Failure::kRateLimited:
      return "rate limited by the backend";
    case Failure::kUsageExhausted:
      return "usage limit exceeded";
    case Failure::kInvalidToken:
      return "invalid token";
    case Failure::kForbidden:
      return "forbidden by the backend";
    case Failure::kServerError:
      return "backend server error";
    case Failure::kChineseDetected:
      return "backend refused a Chinese conversation";
    case Failure::kBackendError:
      return "unexpected backend error";
    case Failure::kOversize:
      return "the backend sent more than the gateway takes in one piece";
    case Failure::kUnreadable:
      return "the backend sent something that is not its protocol";
    case Failure::kNoText:
      return "the backend answered without any text";
  }
  return "unknown";
}

}  // namespace qodo
