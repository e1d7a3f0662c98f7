// zlib underneath. The bomb is built from one raw-deflate segment ending in a full flush:
// such a segment references nothing before it and is not final, so any number of copies
// concatenated form one valid deflate stream; the trailer's CRC is combined arithmetically.
#include "gzip.h"

#include <stdexcept>
#include <vector>

namespace emu {

GzipStream::GzipStream() {
  // 15 + 16: a gzip wrapper instead of zlib's; memLevel 8 is zlib's default.
  if (deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    throw std::runtime_error("deflateInit2 failed");
}

GzipStream::~GzipStream() { deflateEnd(&stream_); }

std::string GzipStream::compress(std::string_view in, bool finish) {
  std::string out;
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream_.avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int rc;
  do {
    stream_.next_out = reinterpret_cast<Bytef*>(buf);
    stream_.avail_out = sizeof buf;
    rc = deflate(&stream_, finish ? Z_FINISH : Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - stream_.avail_out);
  } while (stream_.avail_out == 0 || (finish && rc != Z_STREAM_END && rc != Z_STREAM_ERROR));
  return out;
}

std::string bombHeader() {
  // Magic, deflate, no flags, no mtime, no extra flags, OS unix.
  return std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
}

const std::string& bombSegment() {
  static const std::string segment = [] {
    z_stream s{};
    if (deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("deflateInit2 failed");
    std::string in(kBombSegmentBytes, 'A');
    std::vector<char> out(kBombSegmentBytes);
    s.next_in = reinterpret_cast<Bytef*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    deflate(&s, Z_FULL_FLUSH);
    std::string seg(out.data(), out.size() - s.avail_out);
    deflateEnd(&s);
    return seg;
  }();
  return segment;
}

std::uint64_t bombSegments(std::uint64_t bytes) {
  return (bytes + kBombSegmentBytes - 1) / kBombSegmentBytes;
}

std::string bombTrailer(std::uint64_t bytes) {
  std::string in(kBombSegmentBytes, 'A');
  uLong segCrc = crc32(0L, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(in.size()));
  uLong crc = 0;
  std::uint64_t n = bombSegments(bytes);
  for (std::uint64_t i = 0; i < n; ++i) crc = crc32_combine(crc, segCrc, kBombSegmentBytes);
  std::uint64_t total = n * kBombSegmentBytes;
  // A final, empty, fixed-Huffman block ends the deflate stream; then CRC-32 and size mod 2^32.
  std::string t("\x03\x00", 2);
  for (int i = 0; i < 4; ++i) t.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) t.push_back(static_cast<char>((total >> (8 * i)) & 0xff));
  return t;
}

}  // namespace emu
