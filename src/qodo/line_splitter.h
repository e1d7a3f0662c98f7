// Cuts the backend's streamed body into its event lines (SPEC.md §4) whatever the sizes of the
// reads: `\n` or `\r\n` endings, blank lines skipped, an SSE `data:` prefix stripped, `[DONE]`
// as the end. Memory stays bounded: a line longer than the limit is an error, not a buffer.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qodo {

class LineSplitter {
 public:
  static constexpr size_t kDefaultMaxLineBytes = 1024 * 1024;

  enum class Status {
    kLine,         // `line` holds the next event line
    kNeedMore,     // every fed byte is consumed; feed() more or finish()
    kDone,         // `[DONE]` was read, or the body ended after finish()
    kLineTooLong,  // a line went past the limit; the body cannot be read further
  };
  struct Next {
    Status status;
    std::string_view line;  // valid until the next call on the splitter
  };

  explicit LineSplitter(size_t maxLineBytes = kDefaultMaxLineBytes);

  // Hands over the next bytes of the body; they must stay valid until next() says kNeedMore
  // (lines inside them are returned without a copy).
  void feed(std::string_view bytes);
  // The body ended: a last line without a newline still counts.
  void finish();
  // kDone and kLineTooLong are final: every later call returns them again.
  Next next();

 private:
  // Turns a raw line into the event text; false when there is none (blank, SSE comment).
  bool extract(std::string_view raw, std::string_view& line);
  Next fail();

  size_t maxLineBytes_;
  std::string_view input_;  // fed bytes not consumed yet
  std::string partial_;     // start of a line whose end has not arrived
  std::string joined_;      // a line assembled from partial_ and input_
  bool finished_ = false;
  Status final_ = Status::kNeedMore;  // kDone or kLineTooLong once reached
};

}  // namespace qodo
