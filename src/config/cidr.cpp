#include "config/cidr.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace config {
namespace {

std::optional<std::array<unsigned char, 16>> toV6Bytes(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (address.is_v4())
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
  return address.to_v6().to_bytes();
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  std::string_view host = text.substr(0, slash);
  auto bytes = toV6Bytes(host);
  if (!bytes) return std::nullopt;
  const bool v4 = host.find(':') == std::string_view::npos;
  int prefix = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || p.empty() || prefix < 0 ||
        prefix > (v4 ? 32 : 128))
      return std::nullopt;
  }
  Cidr cidr;
  cidr.bytes = *bytes;
  cidr.prefix = v4 ? prefix + 96 : prefix;
  return cidr;
}

bool Cidr::contains(std::string_view address) const {
  auto bytes = toV6Bytes(address);
  if (!bytes) return false;
  int bits = prefix;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if (((*bytes)[i] & mask) != (this->bytes[i] & mask)) return false;
  }
  return true;
}

std::optional<std::string> canonicalAddress(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
        .to_string();
  return address.to_string();
}

}  // namespace config
