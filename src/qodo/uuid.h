// Random (version 4) UUIDs in their canonical text form, for the backend's request id and
// installation ids. The random bits come from the caller so tests can fix them.
#pragma once

#include <concepts>
#include <cstdint>
#include <random>
#include <string>

namespace qodo {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" from 128 bits; the version and variant bits are set
// whatever `high` and `low` hold.
std::string uuid4FromBits(uint64_t high, uint64_t low);

template <std::uniform_random_bit_generator Random>
std::string newUuid4(Random& random) {
  std::uniform_int_distribution<uint64_t> bits;
  const uint64_t high = bits(random);
  return uuid4FromBits(high, bits(random));
}

}  // namespace qodo
