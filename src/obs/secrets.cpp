#include "obs/secrets.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace obs {
namespace {

constexpr std::array<std::string_view, 11> kSecretFields = {
    "refresh_token", "refreshToken", "access_token", "accessToken", "id_token", "idToken",
    "authorization", "cookie",       "api_key",      "apiKey",      "QD_COOKIE"};

bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool isSecretField(std::string_view name) {
  return std::any_of(kSecretFields.begin(), kSecretFields.end(),
                     [&](std::string_view f) { return ieq(f, name); });
}

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

}  // namespace

std::string maskSecret(std::string_view secret) {
  if (secret.size() <= 6) return "…";
  return std::string(secret.substr(0, 6)) + "…";
}

std::string redactSecrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!isNameChar(text[i])) {
      out += text[i++];
      continue;
    }
    size_t start = i;
    while (i < text.size() && isNameChar(text[i])) ++i;
    std::string_view name = text.substr(start, i - start);
    out.append(name);
    if (!isSecretField(name)) continue;
    // JSON `"name": "value"` or form `name=value` or header-ish `name: value`.
    size_t j = i;
    if (j < text.size() && text[j] == '"') ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    if (j >= text.size() || (text[j] != ':' && text[j] != '=')) continue;
    ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    out.append(text.substr(i, j - i));
    i = j;
    if (i < text.size() && text[i] == '"') {
      size_t end = i + 1;
      while (end < text.size() && text[end] != '"') end += (text[end] == '\\') ? 2 : 1;
      out += "\"***\"";
      i = std::min(end + 1, text.size());
    } else {
      size_t end = i;
      while (end < text.size() && text[end] != '&' && text[end] != ',' && text[end] != '\n' &&
             text[end] != '\r' && text[end] != '}')
        ++end;
      if (end > i) out += "***";
      i = end;
    }
  }
  return out;
}

bool constantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

}  // namespace obs
