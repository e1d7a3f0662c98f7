// Keeping secrets out of everything the gateway writes: masks for display and a redactor for
// bodies logged under DEBUG.
#pragma once

#include <string>
#include <string_view>

namespace obs {

// "AMf-vBx…": the first 6 characters then an ellipsis; shorter values become "…" alone.
std::string maskSecret(std::string_view secret);

// Replaces the values of secret-bearing JSON fields and form fields (refresh_token,
// access_token, id_token, api keys, authorization, cookie, …) with "***".
std::string redactSecrets(std::string_view text);

// Compares two secrets in time that depends only on the length of `expected`.
bool constantTimeEquals(std::string_view given, std::string_view expected);

}  // namespace obs
