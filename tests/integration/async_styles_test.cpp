// The async client in its three styles: callbacks, futures, coroutines.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <thread>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "server_test.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class async_styles : public server_test {
 protected:
  async_client_options options() const {
    async_client_options o;
    o.connect_timeout = 2s;
    o.reply_timeout = 5s;
    return o;
  }
};

TEST_F(async_styles, callbacks_put_reserve_delete) {
  asio::io_context io;
  async_client c(io.get_executor(), server().endpoint(), options());
  std::error_code last;
  job_id put_id{};
  std::optional<job> got;
  c.async_connect([&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    c.async_use(tube(), [&](std::error_code uec) {
      ASSERT_FALSE(uec) << uec.message();
      c.async_put("hello", {}, [&](std::error_code pec, job_id id) {
        ASSERT_FALSE(pec) << pec.message();
        put_id = id;
        c.async_watch(tube(), [&](std::error_code wec, std::size_t n) {
          ASSERT_FALSE(wec) << wec.message();
          EXPECT_EQ(n, 2u);
          c.async_reserve_with_timeout(0s, [&](std::error_code rec, std::optional<job> j) {
            ASSERT_FALSE(rec) << rec.message();
            got = std::move(j);
            ASSERT_TRUE(got);
            c.async_remove(got->id, [&](std::error_code dec) {
              last = dec;
              c.close();
            });
          });
        });
      });
    });
  });
  io.run_for(10s);
  EXPECT_FALSE(last) << last.message();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, put_id);
  EXPECT_EQ(got->body, "hello");
}

TEST_F(async_styles, futures_from_another_thread) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  {
    async_client c(io.get_executor(), server().endpoint(), options());
    c.async_connect(asio::use_future).get();
    c.async_use(tube(), asio::use_future).get();
    c.async_watch(tube(), asio::use_future).get();
    const job_id id = c.async_put("via future", {}, asio::use_future).get();
    auto j = c.async_reserve(asio::use_future).get();  // waits on a reserve connection
    EXPECT_EQ(j.id, id);
    EXPECT_EQ(j.body, "via future");
    c.async_remove(j.id, asio::use_future).get();
    auto stats = c.async_stats_tube(tube(), asio::use_future).get();
    EXPECT_EQ(stats.current_jobs_ready, 0u);
    EXPECT_EQ(stats.current_jobs_reserved, 0u);
  }
  guard.reset();
  runner.join();
}

TEST_F(async_styles, coroutines) {
  asio::io_context io;
  async_client c(io.get_executor(), server().endpoint(), options());
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await co_connect_to_tube(c, tube());
        const job_id id =
            co_await c.async_put(std::string("\0\r\nbin", 6), {}, asio::use_awaitable);
        job j = co_await c.async_reserve(asio::use_awaitable);
        EXPECT_EQ(j.id, id);
        EXPECT_EQ(j.body, std::string("\0\r\nbin", 6));
        co_await c.async_touch(j.id, asio::use_awaitable);
        co_await c.async_remove(j.id, asio::use_awaitable);
        auto watched = co_await c.async_list_tubes_watched(asio::use_awaitable);
        EXPECT_EQ(watched, std::vector<std::string>{tube().str()});
        done = true;
        c.close();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(10s);
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace beanpole::testing
