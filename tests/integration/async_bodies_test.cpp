// Put bodies of the async client: every size reaches the server byte for byte, whether the body
// is copied at the call (kept inside the operation when small), taken without a copy, or written
// from where the operation keeps it (large bodies, a gather write), with every completion style.
#include <asio/experimental/deferred.hpp>
#include <asio/use_future.hpp>
#include <future>
#include <string>
#include <vector>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "server_test.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class async_bodies : public server_test {
 public:
  static void SetUpTestSuite() {
    server_options o;
    o.args = {"-z", "2000000"};  // room for the 1 MiB body
    start_suite_server(o);
  }
};

/// A body of `size` bytes that a parser or a buffer mix-up would show: every byte value, CRLFs
/// included, and a different pattern for each `seed`.
std::string body_of(std::size_t size, unsigned seed) {
  std::string b(size, '\0');
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<char>((i * 31 + seed * 7) % 256);
  if (size >= 2) b.replace(size / 2 - 1, 2, "\r\n");
  return b;
}

// Sizes on each side of the inline limit (put_body::inline_capacity, 200) and of the gather
// write (16 KiB), up to 1 MiB.
const std::vector<std::size_t> sizes = {0,     1,     199,   200,   201,     4096,
                                        16383, 16384, 16385, 65536, 1u << 20};

TEST_F(async_bodies, every_size_arrives_intact_copied_taken_and_deferred) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), test_client_options());
  connect_to_tube(c, tube());
  std::vector<std::pair<std::string, std::future<job_id>>> puts;
  unsigned seed = 0;
  for (const std::size_t size : sizes) {
    // Copied at the call: the caller's string changes right after.
    std::string copied = body_of(size, ++seed);
    puts.emplace_back(copied, c.async_put(copied, {}, asio::use_future));
    std::fill(copied.begin(), copied.end(), 'z');
    // Taken: moved in, never copied.
    std::string taken = body_of(size, ++seed);
    std::string kept = taken;
    puts.emplace_back(std::move(kept), c.async_put(std::move(taken), {}, asio::use_future));
    // Deferred: the operation starts after the caller's string is gone.
    std::string expected = body_of(size, ++seed);
    auto op = [&] {
      std::string gone = expected;
      return c.async_put(std::move(gone), {}, asio::experimental::deferred);
    }();
    auto done = std::make_shared<std::promise<job_id>>();
    puts.emplace_back(expected, done->get_future());
    std::move(op)([done](std::error_code ec, job_id id) {
      if (ec) {
        done->set_exception(std::make_exception_ptr(std::system_error(ec)));
      } else {
        done->set_value(id);
      }
    });
  }
  for (auto& [expected, put] : puts) {
    const job_id id = value_of(std::move(put), 10s);
    auto peeked = value_of(c.async_peek(id, asio::use_future), 10s);
    ASSERT_TRUE(peeked);
    ASSERT_EQ(peeked->body.size(), expected.size());
    EXPECT_TRUE(peeked->body == expected) << "body of " << expected.size() << " bytes differs";
  }
}

// Large and small bodies interleaved in one pipelined burst: the copied bytes and the bodies
// written from where they are must come out in order.
TEST_F(async_bodies, a_burst_of_mixed_sizes_keeps_its_order) {
  io_threads runner;
  async_client c(runner.executor(), server().endpoint(), test_client_options());
  connect_to_tube(c, tube());
  std::vector<std::string> bodies;
  std::vector<std::future<job_id>> puts;
  for (unsigned i = 0; i < 300; ++i) {
    const std::size_t size = i % 10 == 0 ? 20000 + i : (i % 3 == 0 ? 300 : 50);
    bodies.push_back(body_of(size, i));
    puts.push_back(c.async_put(std::string(bodies.back()), {}, asio::use_future));
  }
  for (std::size_t i = 0; i < puts.size(); ++i) {
    const job_id id = value_of(std::move(puts[i]), 10s);
    auto reserved = value_of(c.async_reserve_with_timeout(0s, asio::use_future), 10s);
    ASSERT_TRUE(reserved);
    EXPECT_EQ(reserved->id, id);  // same priority: reserved in put order
    EXPECT_TRUE(reserved->body == bodies[i]) << "job " << i << " differs";
    value_of(c.async_remove(reserved->id, asio::use_future));
  }
}

}  // namespace
}  // namespace beanpole::testing
