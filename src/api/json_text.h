// Writing JSON text by appending to a std::string, for bodies built on the hot path without a
// JSON DOM. The string escaper repairs invalid UTF-8 (each bad byte becomes U+FFFD), so whatever
// bytes come in, the output is valid JSON and valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace api {

// Appends `text` as a quoted JSON string.
void appendJsonString(std::string& out, std::string_view text);

// Appends the escaped characters of `text` without the surrounding quotes.
void appendJsonEscaped(std::string& out, std::string_view text);

// Appends a decimal integer.
void appendJsonInt(std::string& out, long long value);

}  // namespace api
