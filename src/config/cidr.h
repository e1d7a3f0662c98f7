// CIDR ranges (TRUSTED_PROXIES) and IP address matching, IPv4 and IPv6; an IPv4-mapped IPv6
// peer (::ffff:a.b.c.d) matches an IPv4 range.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace config {

struct Cidr {
  std::array<unsigned char, 16> bytes{};  // IPv4 stored as IPv4-mapped IPv6
  int prefix = 128;                       // in IPv6 bits

  static std::optional<Cidr> parse(std::string_view text);  // "10.0.0.0/8", "::1", "1.2.3.4"
  bool contains(std::string_view address) const;
};

// Canonical text of an address ("::ffff:1.2.3.4" becomes "1.2.3.4"); nullopt when not an IP.
std::optional<std::string> canonicalAddress(std::string_view text);

}  // namespace config
