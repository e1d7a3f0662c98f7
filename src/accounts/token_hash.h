// The identity of an account: the SHA-256 (lower-case hex) of the refresh token it was first
// configured with. Refresh tokens rotate and every account shares one API key, so neither can be
// the key; the hash also keeps that first token out of the database.
#pragma once

#include <string>
#include <string_view>

namespace accounts {

std::string sha256Hex(std::string_view data);

}  // namespace accounts
