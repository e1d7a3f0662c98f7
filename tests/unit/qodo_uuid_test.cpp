#include <gtest/gtest.h>

#include <regex>

#include "qodo/uuid.h"

namespace {

const std::regex kUuid4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

TEST(Uuid4, SetsVersionAndVariantBitsWhateverTheRandomBits) {
  EXPECT_EQ(qodo::uuid4FromBits(0, 0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(qodo::uuid4FromBits(~0ull, ~0ull), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_EQ(qodo::uuid4FromBits(0x0123456789abcdefull, 0xfedcba9876543210ull),
            "01234567-89ab-4def-bedc-ba9876543210");
}

TEST(Uuid4, RandomOnesAreWellFormedAndDistinct) {
  std::mt19937_64 rng(3);
  const std::string a = qodo::newUuid4(rng);
  const std::string b = qodo::newUuid4(rng);
  EXPECT_TRUE(std::regex_match(a, kUuid4)) << a;
  EXPECT_TRUE(std::regex_match(b, kUuid4)) << b;
  EXPECT_NE(a, b);
}

}  // namespace
