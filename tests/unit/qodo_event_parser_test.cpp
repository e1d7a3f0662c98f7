#include <gtest/gtest.h>

#include "qodo/event_parser.h"

namespace {

using qodo::EventKind;

TEST(EventParser, TextEventGivesItsContent) {
  qodo::EventParser p;
  auto e = p.parse(R"({"type":"text","sub_type":"code","used_model":"gpt-4o",)"
                   R"("data":{"content":"Hello \"world\"\n","extra":1}})");
  EXPECT_EQ(e.kind, EventKind::kText);
  EXPECT_EQ(e.text, "Hello \"world\"\n");
}

TEST(EventParser, TextEventWithoutContentGivesEmptyText) {
  qodo::EventParser p;
  auto e = p.parse(R"({"type":"text","data":{}})");
  EXPECT_EQ(e.kind, EventKind::kText);
  EXPECT_EQ(e.text, "");
}

TEST(EventParser, OtherTypesAreReportedByName) {
  qodo::EventParser p;
  auto e = p.parse(R"({"type":"usage","data":{"content":"not text"}})");
  EXPECT_EQ(e.kind, EventKind::kOther);
  EXPECT_EQ(e.text, "usage");
  auto untyped = p.parse(R"({"data":{"content":"x"}})");
  EXPECT_EQ(untyped.kind, EventKind::kOther);
  EXPECT_EQ(untyped.text, "");
}

TEST(EventParser, ErrorObjectsAreErrors) {
  qodo::EventParser p;
  auto s = p.parse(R"({"error":"Usage limit exceeded","detail":"x"})");
  EXPECT_EQ(s.kind, EventKind::kError);
  EXPECT_EQ(s.text, "Usage limit exceeded");
  auto o = p.parse(R"({"error":{"message":"boom","code":500}})");
  EXPECT_EQ(o.kind, EventKind::kError);
  EXPECT_EQ(o.text, "boom");
}

TEST(EventParser, NonJsonLinesAreNotJson) {
  qodo::EventParser p;
  EXPECT_EQ(p.parse("event: ping").kind, EventKind::kNotJson);
  EXPECT_EQ(p.parse(R"({"type":"text","data":)").kind, EventKind::kNotJson);
  EXPECT_EQ(p.parse(R"({"a":1} trailing)").kind, EventKind::kNotJson);
  EXPECT_EQ(p.parse("[1,2]").kind, EventKind::kNotJson);
  EXPECT_EQ(p.parse("").kind, EventKind::kNotJson);
}

TEST(EventParser, ReusedParserRecoversAfterBadLines) {
  qodo::EventParser p;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(p.parse(R"({"type":"text","data":{"content":)").kind, EventKind::kNotJson);
    const std::string content = "piece " + std::to_string(i) + std::string(i * 10, 'z');
    // The event may point into its line (event_parser.h): the line outlives the checks.
    const std::string line = R"({"type":"text","data":{"content":")" + content + "\"}}";
    auto e = p.parse(line);
    ASSERT_EQ(e.kind, EventKind::kText) << "round " << i;
    EXPECT_EQ(e.text, content);
  }
}

}  // namespace
