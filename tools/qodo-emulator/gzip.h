// gzip for answer bodies: a streaming compressor that flushes after every frame (so a gzip
// answer still arrives event by event), and the pieces of a gzip bomb.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace emu {

class GzipStream {
 public:
  GzipStream();
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses `in` and returns every byte the decoder needs to see it (sync flush);
  // `finish` also ends the gzip member.
  std::string compress(std::string_view in, bool finish);

 private:
  z_stream stream_{};
};

// A gzip bomb is `bombHeader()`, then `bombSegment()` repeated `bombSegments(n)` times, then
// `bombTrailer(n)`: a few KB on the wire that inflate to n bytes (rounded up to whole MiB) of
// 'A' without a single newline.
constexpr std::uint64_t kBombSegmentBytes = 1 << 20;
std::string bombHeader();
const std::string& bombSegment();
std::uint64_t bombSegments(std::uint64_t bytes);
std::string bombTrailer(std::uint64_t bytes);

}  // namespace emu
