// Random (version 4) UUIDs in their canonical text form, for the backend's request id and
// installation ids. The random bits come from the caller so tests can fix them.
#pragma once

#include <concepts>
#include <cstdint>
#include <random>
#include <string>

namespace qodo {

// The 8-4-4-4-12 lowercase hex form of 128 bits; the version (4) and RFC 4122 variant bits are
// set whatever `high` and `low` hold.
std::string uuid4FromBits(uint64_t high, uint64_t low);

template <std::uniform_random_bit_generator Random>
std::string newUuid4(Random& random) {
  std::uniform_int_distribution<uint64_t> bits;
  const uint64_t high = bits(random);
  return uuid4FromBits(high, bits(random));
}

}  // namespace qodo
