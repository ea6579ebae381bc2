// Requests waiting to be written, with large bodies left where their operations keep them.
#include "conn/request_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using beanpole::conn::request_buffer;

/// The bytes the buffer stands for, in wire order.
std::string flat(const request_buffer& b) {
  std::string out;
  std::size_t at = 0;
  for (const auto& e : b.externals()) {
    out.append(b.bytes(), at, e.at - at);
    out += e.bytes;
    at = e.at;
  }
  out.append(b.bytes(), at);
  return out;
}

/// "put\r\n", a body of its own, "\r\n": one request with a body left where it is.
void add_put(request_buffer& b, std::string_view body) {
  b.bytes() += "put\r\n";
  b.append_external(body);
  b.bytes() += "\r\n";
}

TEST(RequestBuffer, KeepsBodiesWhereTheyAreInWireOrder) {
  const std::string one = "first body";
  const std::string two = "second";
  request_buffer b;
  EXPECT_TRUE(b.empty());
  add_put(b, one);
  b.bytes() += "stats\r\n";
  add_put(b, two);
  EXPECT_EQ(flat(b), "put\r\nfirst body\r\nstats\r\nput\r\nsecond\r\n");
  EXPECT_EQ(b.size(), flat(b).size());
  EXPECT_EQ(b.externals()[0].bytes.data(), one.data());
  b.append_external({});  // an empty body adds nothing
  EXPECT_EQ(b.externals().size(), 2u);
}

TEST(RequestBuffer, ErasingWholeRequestsDropsTheirBodies) {
  const std::string one = "first body";
  const std::string two = "second";
  request_buffer b;
  add_put(b, one);
  b.bytes() += "stats\r\n";
  add_put(b, two);
  b.erase_prefix(5 + one.size() + 2);  // the first put
  EXPECT_EQ(flat(b), "stats\r\nput\r\nsecond\r\n");
  b.erase_prefix(7);  // stats
  EXPECT_EQ(flat(b), "put\r\nsecond\r\n");
  ASSERT_EQ(b.externals().size(), 1u);
  EXPECT_EQ(b.externals()[0].at, 5u);
  b.erase_prefix(5 + two.size() + 2);
  EXPECT_TRUE(b.empty());
}

TEST(RequestBuffer, AppendShiftsTheOtherBuffersBodies) {
  const std::string one = "1";
  const std::string two = "22";
  request_buffer a, b;
  a.bytes() += "use x\r\n";
  add_put(a, one);
  add_put(b, two);
  a.append(b);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(flat(a), "use x\r\nput\r\n1\r\nput\r\n22\r\n");
  request_buffer empty;
  empty.append(a);  // into an empty buffer: taken whole
  EXPECT_EQ(flat(empty), "use x\r\nput\r\n1\r\nput\r\n22\r\n");
  EXPECT_TRUE(a.empty());
}

TEST(RequestBuffer, AFullChunkIsSealedNotGrownAndErasingCutsIntoIt) {
  const std::string body = "body kept where it is";
  request_buffer b;
  std::string expected;
  std::size_t requests = 0;
  // Requests of 100 bytes until well past two chunks, a body left out now and then.
  while (expected.size() < 2 * request_buffer::chunk_bytes + 500) {
    std::string& chunk = b.bytes_for_append();
    EXPECT_GE(chunk.capacity(), request_buffer::chunk_bytes);  // reserved once, never grown
    const std::string line =
        "req " + std::string(94, static_cast<char>('a' + requests % 26)) + "\r\n";
    chunk += line;
    expected += line;
    if (requests % 100 == 0) {
      b.append_external(body);
      b.bytes() += "\r\n";
      expected += body + "\r\n";
    }
    ++requests;
  }
  EXPECT_EQ(flat(b), expected);
  EXPECT_LT(b.bytes().size(), request_buffer::chunk_bytes);  // two chunks were sealed
  EXPECT_EQ(b.size(), expected.size());

  // Erase the first 1,000 requests' worth: the cut falls inside a sealed chunk.
  const std::size_t cut = expected.find("req ", 70000);
  b.erase_prefix(cut);
  EXPECT_EQ(flat(b), expected.substr(cut));

  request_buffer other;
  other.bytes() += "use t\r\n";  // short: kept inside its string object until sealed
  other.append(b);
  EXPECT_EQ(flat(other), "use t\r\n" + expected.substr(cut));
}

TEST(RequestBuffer, ClearKeepsASmallBufferAndDropsALargeOne) {
  request_buffer b;
  b.bytes().assign(1000, 'x');
  const auto small = b.bytes().capacity();
  b.clear(4096);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes().capacity(), small);
  b.bytes().assign(10000, 'x');
  b.clear(4096);
  EXPECT_LT(b.bytes().capacity(), 10000u);
}

}  // namespace
