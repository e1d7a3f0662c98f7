#include <gtest/gtest.h>

#include "qodo/line_splitter.h"

namespace {

using Status = qodo::LineSplitter::Status;

struct Drained {
  std::vector<std::string> lines;
  Status last;
};

// Pulls lines until the splitter needs more input or reaches an end.
Drained drain(qodo::LineSplitter& s, std::vector<std::string>& lines) {
  while (true) {
    auto n = s.next();
    if (n.status != Status::kLine) return {lines, n.status};
    lines.emplace_back(n.line);
  }
}

// Feeds `body` in pieces of `step` bytes, then finishes; returns every line and the end status.
Drained splitAll(std::string_view body, size_t step, size_t maxLine = 1024) {
  qodo::LineSplitter s(maxLine);
  std::vector<std::string> lines;
  for (size_t i = 0; i < body.size(); i += step) {
    // A copy that dies after the call proves lines never point into old input.
    std::string piece(body.substr(i, step));
    s.feed(piece);
    Drained d = drain(s, lines);
    if (d.last != Status::kNeedMore) return d;
  }
  s.finish();
  return drain(s, lines);
}

TEST(LineSplitter, EmitsEachCompleteLine) {
  auto d = splitAll("{\"a\":1}\n{\"b\":2}\n", 100);
  EXPECT_EQ(d.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(d.last, Status::kDone);
}

TEST(LineSplitter, JoinsALineSplitAcrossTwoReads) {
  qodo::LineSplitter s;
  s.feed("{\"type\":\"te");
  EXPECT_EQ(s.next().status, Status::kNeedMore);
  s.feed("xt\"}\nnext");
  auto n = s.next();
  ASSERT_EQ(n.status, Status::kLine);
  EXPECT_EQ(n.line, "{\"type\":\"text\"}");
  EXPECT_EQ(s.next().status, Status::kNeedMore);
}

TEST(LineSplitter, GivesTheSameLinesForEveryReadSize) {
  const std::string body =
      "data: {\"x\":1}\r\n\r\n{\"y\":\"two words\"}\n\n\ndata:{\"z\":3}\r\n: keep-alive\n  \n"
      "{\"last\":true}";
  const std::vector<std::string> want = {"{\"x\":1}", "{\"y\":\"two words\"}", "{\"z\":3}",
                                         "{\"last\":true}"};
  for (size_t step = 1; step <= body.size(); ++step) {
    auto d = splitAll(body, step);
    EXPECT_EQ(d.lines, want) << "read size " << step;
    EXPECT_EQ(d.last, Status::kDone) << "read size " << step;
  }
}

TEST(LineSplitter, HandlesCrLfSplitBetweenReads) {
  auto d = splitAll("{\"a\":1}\r\n{\"b\":2}\r\n", 8);  // the \r ends the first read
  EXPECT_EQ(d.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

TEST(LineSplitter, DoneLineEndsTheBodyAndLaterBytesAreIgnored) {
  for (size_t step = 1; step < 40; ++step) {
    auto d = splitAll("{\"a\":1}\ndata: [DONE]\n{\"after\":1}\n", step);
    EXPECT_EQ(d.lines, std::vector<std::string>{"{\"a\":1}"});
    EXPECT_EQ(d.last, Status::kDone);
  }
  auto bare = splitAll("{\"a\":1}\n[DONE]\n", 100);
  EXPECT_EQ(bare.lines.size(), 1u);
  EXPECT_EQ(bare.last, Status::kDone);
}

TEST(LineSplitter, DoneIsFinal) {
  qodo::LineSplitter s;
  s.feed("[DONE]\n{\"x\":1}\n");
  EXPECT_EQ(s.next().status, Status::kDone);
  s.feed("{\"y\":1}\n");
  EXPECT_EQ(s.next().status, Status::kDone);
}

TEST(LineSplitter, EmptyBodyEndsWithoutLines) {
  auto d = splitAll("", 1);
  EXPECT_TRUE(d.lines.empty());
  EXPECT_EQ(d.last, Status::kDone);
}

TEST(LineSplitter, LastLineWithoutNewlineCountsOnlyAfterFinish) {
  qodo::LineSplitter s;
  s.feed("{\"tail\":1}");
  EXPECT_EQ(s.next().status, Status::kNeedMore);
  s.finish();
  auto n = s.next();
  ASSERT_EQ(n.status, Status::kLine);
  EXPECT_EQ(n.line, "{\"tail\":1}");
  EXPECT_EQ(s.next().status, Status::kDone);
}

TEST(LineSplitter, ALineLongerThanTheLimitIsAnError) {
  const std::string longLine(65, 'x');
  for (size_t step : {1, 7, 64, 100}) {
    auto d = splitAll("{\"ok\":1}\n" + longLine + "\n{\"never\":1}\n", step, 64);
    EXPECT_EQ(d.lines, std::vector<std::string>{"{\"ok\":1}"}) << step;
    EXPECT_EQ(d.last, Status::kLineTooLong) << step;
  }
}

TEST(LineSplitter, AnUnendedLongLineFailsBeforeItsEndArrives) {
  qodo::LineSplitter s(64);
  const std::string part(40, 'x');
  s.feed(part);
  EXPECT_EQ(s.next().status, Status::kNeedMore);
  s.feed(part);
  EXPECT_EQ(s.next().status, Status::kLineTooLong);
  s.feed("\n{\"a\":1}\n");
  EXPECT_EQ(s.next().status, Status::kLineTooLong);
}

TEST(LineSplitter, ALineOfExactlyTheLimitPasses) {
  auto d = splitAll(std::string(64, 'x') + "\n", 10, 64);
  ASSERT_EQ(d.lines.size(), 1u);
  EXPECT_EQ(d.last, Status::kDone);
}

}  // namespace
